#include "models/mamba_common.h"

#include "statescope/error.h"

#include <cmath>

namespace statescope {
namespace {

class MambaBackboneModel : public BlockModel {
public:
    MambaBackboneModel(std::unique_ptr<Checkpoint> ck, const std::string& family, bool tie_default,
                       const MixerFactory& make_mixer)
        : BlockModel(std::move(ck), family) {
        Checkpoint& c = *ck_;
        const Config& cfg = c.config();
        read_common_config(c, info_);
        require_silu_activation(cfg);
        const int D = info_.hidden_size;
        const float eps = float(cfg.number_or("layer_norm_epsilon", 1e-5));
        if (!(eps > 0)) cfg.fail("layer_norm_epsilon", "must be positive");
        for (int l = 0; l < info_.num_layers; ++l) {
            Block b;
            b.norm1 = rms_norm(c, "backbone.layers." + std::to_string(l) + ".norm.weight", D, eps);
            b.mixer = make_mixer(c, cfg, l, D);
            blocks_.push_back(std::move(b));
        }
        norm_f_ = rms_norm(c, "backbone.norm_f.weight", D, eps);
        hidden_after_each_layer_ = true;
        // MambaModel's load hook renames the original checkpoints' "embedding." to "embeddings.".
        std::string embed = "backbone.embeddings.weight";
        if (!c.has(embed) && c.has("backbone.embedding.weight")) embed = "backbone.embedding.weight";
        finish_setup(embed, "lm_head.weight", cfg.bool_or("tie_word_embeddings", tie_default));
    }

private:
    // MambaRMSNorm always has a weight; a missing one is a broken checkpoint, not "no weight".
    static Norm rms_norm(Checkpoint& c, const std::string& name, int n, float eps) {
        Norm nm;
        nm.kind = Norm::RMS;
        nm.eps = eps;
        nm.weight = cpu::Param::load(c, name, {n});
        return nm;
    }
};

float json_float(const Config& c, const Json& v, const std::string& key) {
    if (v.is_number()) return float(v.as_number());
    if (v.is_object()) {
        if (const Json* f = v.find("__float__"); f && f->is_string()) {
            const std::string& s = f->as_string();
            if (s == "Infinity" || s == "inf") return INFINITY;
            if (s == "-Infinity" || s == "-inf") return -INFINITY;
        }
    }
    c.fail(key, std::string("expected numbers, found ") + Json::type_name(v.type()));
}

} // namespace

std::unique_ptr<Model> make_mamba_backbone_model(std::unique_ptr<Checkpoint> ck, const std::string& family,
                                                 bool tie_default, const MixerFactory& make_mixer) {
    return std::make_unique<MambaBackboneModel>(std::move(ck), family, tie_default, make_mixer);
}

void require_silu_activation(const Config& c) {
    const std::string act = c.string_or("hidden_act", "silu");
    if (act != "silu" && act != "swish") c.fail("hidden_act", "'" + act + "' is not supported (only silu)");
}

std::pair<float, float> read_time_step_limit(const Config& c) {
    const Json* v = c.root().find("time_step_limit");
    if (!v || v->is_null()) return {0.0f, INFINITY};
    if (!v->is_array() || v->size() != 2) c.fail("time_step_limit", "expected a [min, max] pair");
    const float lo = json_float(c, v->items()[0], "time_step_limit");
    const float hi = json_float(c, v->items()[1], "time_step_limit");
    if (std::isnan(lo) || std::isnan(hi) || lo < 0 || lo > hi)
        c.fail("time_step_limit", "expected 0 <= min <= max");
    return {lo, hi};
}

int read_time_step_rank(const Config& c, int hidden) {
    const Json* v = c.root().find("time_step_rank");
    if (!v || v->is_null()) return (hidden + 15) / 16;
    if (v->is_string()) {
        if (v->as_string() != "auto") c.fail("time_step_rank", "expected an integer or \"auto\"");
        return (hidden + 15) / 16;
    }
    return int(c.int_in_range("time_step_rank", 0, 1, 1 << 20));
}

std::string mamba_mixer_prefix(int layer) { return "backbone.layers." + std::to_string(layer) + ".mixer"; }

std::string mamba_cache_name(int layer, const char* what) {
    return "cache.layers." + std::to_string(layer) + "." + what + ".0";
}

} // namespace statescope
