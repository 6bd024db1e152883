// Bad input gets a clear error naming the file and the tensor or key, never a crash. Each case
// writes a broken file into a temporary folder and checks the message.
#include "core/checkpoint.h"
#include "statescope/error.h"
#include "core/json.h"
#include "statescope/safetensors.h"
#include "statescope/model.h"
#include "statescope/limits.h"
#include "statescope/frames/token_input.h"
#include "test_support.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <filesystem>
#include <fstream>

using namespace statescope;
namespace fs = std::filesystem;

namespace {

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
}

// A safetensors file with the given header text and `data_bytes` bytes of payload.
std::string safetensors_bytes(const std::string& header, size_t data_bytes) {
    std::string out(8, '\0');
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xFF);
    out += header;
    out += std::string(data_bytes, '\0');
    return out;
}

// Expects `fn` to throw statescope::Error whose message contains every needle.
template <typename Fn>
void expect_error(Fn fn, std::initializer_list<const char*> needles) {
    try {
        fn();
    } catch (const Error& e) {
        const std::string msg = e.what();
        for (const char* n : needles)
            QVERIFY2(msg.find(n) != std::string::npos, qPrintable(QString("message \"%1\" lacks \"%2\"").arg(msg.c_str(), n)));
        return;
    }
    QFAIL("expected statescope::Error");
}

const char* kGoodConfig = R"({"model_type": "gla", "hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 4})";

// Every tensor of a safetensors file, as write_safetensors takes them.
std::vector<OutputTensor> read_all(const std::string& path) {
    SafetensorsFile file(path);
    std::vector<OutputTensor> all;
    for (const TensorEntry& e : file.tensors()) {
        OutputTensor t;
        t.name = e.name;
        t.shape = e.shape;
        t.dtype = e.dtype == DType::F16 || e.dtype == DType::BF16 ? e.dtype : DType::F32;
        if (e.dtype == DType::I64 || e.dtype == DType::I32) t.i64 = SafetensorsFile::to_i64(e);
        else t.f32 = SafetensorsFile::to_f32(e);
        all.push_back(std::move(t));
    }
    return all;
}

// The header text of a safetensors file written by write_safetensors, and the file with another.
std::string header_of(const std::string& bytes) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(bytes[size_t(i)]);
    return bytes.substr(8, size_t(n));
}
std::string with_header(const std::string& bytes, std::string header) {
    const std::string old = header_of(bytes);
    while ((header.size() + 8) % 8) header += ' ';
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[size_t(i)] = char((uint64_t(header.size()) >> (8 * i)) & 0xFF);
    return out + header + bytes.substr(8 + old.size());
}

struct CliRun {
    int exit_code = -1;
    std::string err;
};
CliRun cli(const QStringList& args) {
    QProcess p;
    p.start(STATESCOPE_CLI, args);
    if (!p.waitForFinished(120000)) return {};
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2, p.readAllStandardError().toStdString()};
}

} // namespace

class TestLoadingErrors : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::string path(const char* name) const { return (fs::path(tmp_.path().toStdString()) / name).string(); }

private slots:
    void missing_file() {
        expect_error([&] { SafetensorsFile f(path("nope.safetensors")); }, {"nope.safetensors", "cannot open"});
    }

    void truncated_below_header_length() {
        write_file(path("short.safetensors"), "abc");
        expect_error([&] { SafetensorsFile f(path("short.safetensors")); }, {"short.safetensors", "truncated"});
    }

    void header_length_past_end() {
        std::string b = safetensors_bytes("{}", 0);
        b[0] = char(0xFF); // claims a 255-byte header in a 10-byte file
        write_file(path("lie.safetensors"), b);
        expect_error([&] { SafetensorsFile f(path("lie.safetensors")); }, {"lie.safetensors", "header length"});
    }

    void header_not_json() {
        write_file(path("bad.safetensors"), safetensors_bytes("{\"a\": [1,", 0));
        expect_error([&] { SafetensorsFile f(path("bad.safetensors")); }, {"bad.safetensors", "invalid JSON"});
    }

    void offsets_out_of_range() {
        write_file(path("oob.safetensors"),
                   safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
        expect_error([&] { SafetensorsFile f(path("oob.safetensors")); }, {"oob.safetensors", "'w'", "past the end"});
    }

    void offsets_overlap() {
        write_file(path("ovl.safetensors"),
                   safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12));
        expect_error([&] { SafetensorsFile f(path("ovl.safetensors")); }, {"ovl.safetensors", "overlap"});
    }

    void unknown_dtype() {
        write_file(path("dt.safetensors"),
                   safetensors_bytes(R"({"w":{"dtype":"F8_E9M9","shape":[2],"data_offsets":[0,2]}})", 2));
        expect_error([&] { SafetensorsFile f(path("dt.safetensors")); }, {"dt.safetensors", "'w'", "unknown dtype", "F8_E9M9"});
    }

    void shape_and_bytes_disagree() {
        write_file(path("sz.safetensors"),
                   safetensors_bytes(R"({"w":{"dtype":"BF16","shape":[3,2],"data_offsets":[0,8]}})", 8));
        expect_error([&] { SafetensorsFile f(path("sz.safetensors")); }, {"sz.safetensors", "'w'", "needs 12 bytes"});
    }

    void negative_shape() {
        write_file(path("neg.safetensors"),
                   safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0));
        expect_error([&] { SafetensorsFile f(path("neg.safetensors")); }, {"neg.safetensors", "'w'", "non-negative"});
    }

    void dtype_upcasts_are_exact() {
        // bf16 and f16 are exactly representable in f32: round trips must be bit-exact.
        for (uint32_t h = 0; h < 0x10000; ++h) {
            float f = bf16_to_f32(uint16_t(h));
            if (f == f) QCOMPARE(f32_to_bf16(f), uint16_t(h));
            float g = f16_to_f32(uint16_t(h));
            if (g == g) QCOMPARE(f32_to_f16(g), uint16_t(h));
        }
        QCOMPARE(f16_to_f32(0x3C00), 1.0f);
        QCOMPARE(f16_to_f32(0x0001), 5.9604644775390625e-08f); // smallest subnormal
        QCOMPARE(bf16_to_f32(0xC000), -2.0f);
    }

    void write_then_read_round_trip() {
        std::vector<OutputTensor> ts = {{"ids", {1, 3}, {}, {5, 6, 7}}, {"x", {2, 2}, {1, -2, 3.5f, 0}, {}}};
        write_safetensors(path("rt.safetensors"), ts, {{"k", "v"}});
        SafetensorsFile f(path("rt.safetensors"));
        QCOMPARE(SafetensorsFile::to_i64(*f.find("ids")), (std::vector<int64_t>{5, 6, 7}));
        QCOMPARE(SafetensorsFile::to_f32(*f.find("x")), (std::vector<float>{1, -2, 3.5f, 0}));
        QCOMPARE(f.metadata().at("k"), std::string("v"));
    }

    void folder_without_config() {
        fs::create_directories(path("empty"));
        expect_error([&] { load_model(path("empty")); }, {"empty", "no config.json"});
    }

    void config_not_json() {
        fs::create_directories(path("badcfg"));
        write_file(path("badcfg/config.json"), "{\"model_type\": gla}");
        expect_error([&] { load_model(path("badcfg")); }, {"config.json", "invalid JSON", "line 1"});
    }

    void folder_without_weights() {
        fs::create_directories(path("noweights"));
        write_file(path("noweights/config.json"), kGoodConfig);
        expect_error([&] { load_model(path("noweights")); }, {"noweights", "no model.safetensors"});
    }

    void unknown_model_type() {
        fs::create_directories(path("unknown"));
        write_file(path("unknown/config.json"), R"({"model_type": "transformer-xl"})");
        write_file(path("unknown/model.safetensors"), safetensors_bytes("{}", 0));
        expect_error([&] { load_model(path("unknown")); }, {"config.json", "transformer-xl", "not supported", "mamba"});
    }

    void missing_tensor_is_named() {
        fs::create_directories(path("missing"));
        write_file(path("missing/config.json"), kGoodConfig);
        write_file(path("missing/model.safetensors"), safetensors_bytes("{}", 0));
        expect_error([&] { load_model(path("missing")); }, {"model.safetensors", "tensor 'model.layers.0.attn_norm.weight'", "missing"});
    }

    void misshapen_tensor_is_named() {
        // The real GLA reference checkpoint with a config that promises a different hidden size.
        const std::string src = testsupport::reference_dir() + "/models/gla";
        fs::create_directories(path("misshapen"));
        fs::copy_file(src + "/model.safetensors", path("misshapen/model.safetensors"));
        std::string cfg = read_text_file(src + "/config.json");
        const std::string from = "\"hidden_size\": 64", to = "\"hidden_size\": 96";
        QVERIFY(cfg.find(from) != std::string::npos);
        cfg.replace(cfg.find(from), from.size(), to);
        write_file(path("misshapen/config.json"), cfg);
        expect_error([&] { load_model(path("misshapen")); }, {"model.safetensors", "has shape [", "expected [", "config.json"});
    }

    void config_value_out_of_range() {
        fs::create_directories(path("range"));
        write_file(path("range/config.json"), R"({"model_type": "gla", "hidden_size": 0, "num_hidden_layers": 1, "vocab_size": 4})");
        write_file(path("range/model.safetensors"), safetensors_bytes("{}", 0));
        expect_error([&] { load_model(path("range")); }, {"config.json", "hidden_size", "out of range"});
        write_file(path("range/config.json"), R"({"model_type": "gla", "hidden_size": "wide", "num_hidden_layers": 1, "vocab_size": 4})");
        expect_error([&] { load_model(path("range")); }, {"config.json", "hidden_size", "expected an integer"});
    }

    void truncated_weights_file() {
        const std::string src = testsupport::reference_dir() + "/models/gla";
        fs::create_directories(path("trunc"));
        fs::copy_file(src + "/config.json", path("trunc/config.json"));
        std::string bytes = read_text_file(src + "/model.safetensors");
        write_file(path("trunc/model.safetensors"), bytes.substr(0, bytes.size() - 100));
        expect_error([&] { load_model(path("trunc")); }, {"model.safetensors", "past the end"});
    }

    // Every tensor a checkpoint holds is one the model needs: deleting any single one of them, in
    // every reference family (../shared/reference and tests/data/references) and every trained
    // demonstration model, is refused by name. (Norm weights used to load as ones when missing;
    // whether a tensor is required follows the config.)
    void every_single_tensor_deletion_is_refused() {
        std::vector<std::string> folders;
        for (const auto& e : fs::directory_iterator(testsupport::reference_dir() + "/models")) folders.push_back(e.path());
        for (const auto& e : fs::directory_iterator(std::string(STATESCOPE_SOURCE_DIR) + "/assets/models"))
            if (fs::exists(e.path() / "config.json")) folders.push_back(e.path());
        for (const auto& e : fs::directory_iterator(testsupport::family_reference_dir()))
            if (fs::exists(e.path() / "config.json")) folders.push_back(e.path());
        std::sort(folders.begin(), folders.end());
        QVERIFY(folders.size() >= 12);
        int deletions = 0;
        std::vector<std::string> silent;
        for (const std::string& src : folders) {
            SafetensorsFile file(src + "/model.safetensors");
            std::vector<OutputTensor> all;
            for (const TensorEntry& e : file.tensors()) {
                OutputTensor t;
                t.name = e.name;
                t.shape = e.shape;
                t.dtype = e.dtype == DType::F16 || e.dtype == DType::BF16 ? e.dtype : DType::F32;
                if (e.dtype == DType::I64 || e.dtype == DType::I32) t.i64 = SafetensorsFile::to_i64(e);
                else t.f32 = SafetensorsFile::to_f32(e);
                all.push_back(std::move(t));
            }
            const std::string dir = path("deleted");
            for (size_t drop = 0; drop < all.size(); ++drop) {
                fs::remove_all(dir);
                fs::create_directories(dir);
                fs::copy_file(src + "/config.json", dir + "/config.json");
                std::vector<OutputTensor> kept;
                for (size_t i = 0; i < all.size(); ++i)
                    if (i != drop) kept.push_back(all[i]);
                write_safetensors(dir + "/model.safetensors", kept);
                ++deletions;
                try {
                    load_model(dir);
                    silent.push_back(fs::path(src).filename().string() + ": " + all[drop].name);
                } catch (const Error& e) {
                    const std::string msg = e.what();
                    QVERIFY2(msg.find(all[drop].name) != std::string::npos && msg.find("model.safetensors") != std::string::npos,
                             qPrintable(QString::fromStdString(src + " without " + all[drop].name + ": " + msg)));
                }
            }
        }
        std::string list;
        for (const std::string& s : silent) list += "\n  " + s;
        QVERIFY2(silent.empty(), qPrintable(QString("%1 of %2 deletions loaded silently:%3")
                                                .arg(silent.size()).arg(deletions).arg(QString::fromStdString(list))));
        qInfo("%d single-tensor deletions, all refused by name", deletions);
    }

    // The broken-checkpoint corpus: every reference family's checkpoint with one fault at a time —
    // a missing norm weight and projection, an extra tensor, a truncated file, a header whose
    // length lies, an unknown dtype, a shape that disagrees with the byte count, a config value out
    // of range — is refused with a message naming the file and the tensor or key, by the loader
    // the app uses (load_model, engine_worker.cpp), by `statescope-cli info` and by `verify`.
    void broken_checkpoint_corpus_is_refused_everywhere() {
        struct Fault {
            std::string name, file, needle; // what it is, the file and the tensor or key a message must name
            std::string config, weights;    // the folder's config.json and model.safetensors
        };
        int cases = 0;
        QVERIFY(testsupport::reference_model_names().size() >= 12);
        for (const QString& name : testsupport::reference_model_names()) {
            const std::string family = name.toStdString();
            const std::string src = testsupport::reference_dir() + "/models/" + family;
            const std::string config = read_text_file(src + "/config.json");
            std::vector<OutputTensor> all = read_all(src + "/model.safetensors");
            write_safetensors(path("whole.safetensors"), all);
            const std::string whole = read_text_file(path("whole.safetensors"));
            const std::string header = header_of(whole);
            auto without = [&](const std::string& name) {
                std::vector<OutputTensor> kept;
                for (const auto& t : all)
                    if (t.name != name) kept.push_back(t);
                write_safetensors(path("part.safetensors"), kept);
                return read_text_file(path("part.safetensors"));
            };
            std::string norm, projection;
            for (const auto& t : all) {
                if (norm.empty() && t.name.find("norm") != std::string::npos) norm = t.name;
                if (projection.empty() && t.name.find("proj") != std::string::npos) projection = t.name;
            }
            QVERIFY2(!norm.empty() && !projection.empty(), family.c_str());
            std::vector<OutputTensor> extra = all;
            extra.push_back({"model.layers.99.mixer.extra.weight", {4}, {1, 2, 3, 4}, {}, DType::F32});
            write_safetensors(path("extra.safetensors"), extra);
            const std::string first = all[0].name; // write_safetensors keeps the order: the first entry of the header
            std::string unknown_dtype = header, misshapen = header;
            const size_t dt = unknown_dtype.find("\"dtype\":\"") + 9;
            unknown_dtype.replace(dt, unknown_dtype.find('"', dt) - dt, "F8_E9M9");
            misshapen.insert(misshapen.find("\"shape\":[") + 9, "3,");
            std::string long_header = whole;
            long_header[4] = char(0x40); // the length field claims a header of over 256 GiB
            std::string bad_config = config;
            const size_t hs = bad_config.find("\"hidden_size\":");
            QVERIFY(hs != std::string::npos);
            bad_config.replace(hs, bad_config.find_first_of(",}", hs) - hs, "\"hidden_size\": 0");
            const std::vector<Fault> faults = {
                {"missing norm", "model.safetensors", "'" + norm + "'", config, without(norm)},
                {"missing projection", "model.safetensors", "'" + projection + "'", config, without(projection)},
                {"extra tensor", "model.safetensors", "'model.layers.99.mixer.extra.weight'", config, read_text_file(path("extra.safetensors"))},
                {"truncated", "model.safetensors", "past the end", config, whole.substr(0, whole.size() - 100)},
                {"header length lies", "model.safetensors", "header", config, long_header},
                {"unknown dtype", "model.safetensors", "'" + first + "'", config, with_header(whole, unknown_dtype)},
                {"shape disagrees with bytes", "model.safetensors", "'" + first + "'", config, with_header(whole, misshapen)},
                {"config out of range", "config.json", "hidden_size", bad_config, whole},
            };
            for (const Fault& f : faults) {
                const std::string dir = path("broken");
                fs::remove_all(dir);
                fs::create_directories(dir);
                write_file(dir + "/config.json", f.config);
                write_file(dir + "/model.safetensors", f.weights);
                const std::string what = family + ", " + f.name + ": ";
                auto check = [&](const std::string& by, bool refused, const std::string& msg) {
                    QVERIFY2(refused, qPrintable(QString::fromStdString(what + by + " did not refuse it")));
                    QVERIFY2(msg.find(f.file) != std::string::npos && msg.find(f.needle) != std::string::npos,
                             qPrintable(QString::fromStdString(what + by + " says \"" + msg + "\", which lacks " + f.file + " or " + f.needle)));
                };
                std::string message;
                bool refused = false;
                try {
                    load_model(dir);
                } catch (const Error& e) {
                    refused = true;
                    message = e.what();
                }
                check("load_model", refused, message);
                const CliRun info = cli({"info", QString::fromStdString(dir)});
                check("info", info.exit_code > 0, info.err);
                const CliRun verify = cli({"verify", QString::fromStdString(dir), "--reference", QString::fromStdString(src + "/reference.safetensors")});
                check("verify", verify.exit_code > 0, verify.err);
                ++cases;
            }
        }
        qInfo("%d broken checkpoints, each refused by name by load_model, info and verify", cases);
    }

    // Deleting any single tensor of checkpoints in other configurations than the references' (the
    // GPU tests' variants: biases, gates, short convolutions, hybrid attention layers, tied
    // embeddings...) is refused by name too: required tensors follow the config.
    void every_single_tensor_deletion_of_variant_configs_is_refused() {
        const std::vector<std::string> configs = {
            R"({"model_type": "gated_deltanet", "hidden_size": 48, "num_hidden_layers": 1, "num_heads": 2, "num_v_heads": 6, "head_dim": 12, "expand_v": 1.5, "vocab_size": 40})",
            R"({"model_type": "delta_net", "hidden_size": 48, "num_hidden_layers": 1, "num_heads": 3, "qk_activation": "elu", "qk_norm": "sum", "use_short_conv": false, "use_beta": false, "allow_neg_eigval": true, "use_gate": true, "vocab_size": 40})",
            R"({"model_type": "gated_deltaproduct", "hidden_size": 40, "num_hidden_layers": 1, "num_heads": 2, "head_dim": 20, "expand_v": 1.0, "num_householder": 3, "use_forget_gate": false, "vocab_size": 40})",
            R"({"model_type": "mamba", "hidden_size": 40, "num_hidden_layers": 1, "expand": 1.5, "state_size": 7, "time_step_rank": 5, "conv_kernel": 3, "use_bias": true, "use_conv_bias": false, "tie_word_embeddings": false, "vocab_size": 40})",
            R"({"model_type": "mamba2", "hidden_size": 48, "num_hidden_layers": 1, "expand": 2, "num_heads": 6, "head_dim": 16, "n_groups": 3, "state_size": 10, "use_bias": true, "vocab_size": 40})",
            R"({"model_type": "hgrn2", "hidden_size": 48, "num_hidden_layers": 1, "expand_ratio": 12, "use_short_conv": true, "conv_size": 3, "vocab_size": 40})",
            R"({"model_type": "retnet", "hidden_size": 48, "num_hidden_layers": 1, "num_heads": 4, "num_kv_heads": 2, "expand_k": 1.0, "expand_v": 1.5, "feature_map": "relu", "vocab_size": 40})",
            R"({"model_type": "retnet", "hidden_size": 30, "num_hidden_layers": 1, "num_heads": 3, "use_output_gate": false, "vocab_size": 40})",
            R"({"model_type": "llama", "hidden_size": 40, "num_hidden_layers": 1, "num_attention_heads": 6, "num_key_value_heads": 2, "head_dim": 24, "intermediate_size": 72, "vocab_size": 40, "attention_bias": true, "tie_word_embeddings": true})",
            R"({"model_type": "gla", "hidden_size": 48, "num_hidden_layers": 2, "num_heads": 2, "vocab_size": 40, "use_short_conv": true, "attn": {"layers": [1], "num_heads": 3, "num_kv_heads": 1, "window_size": 48, "rope_theta": 10000.0}})",
            R"({"model_type": "linear_attn", "hidden_size": 32, "num_hidden_layers": 1, "num_heads": 2, "feature_map": "hedgehog", "norm_q": true, "norm_k": true, "vocab_size": 40})",
            R"({"model_type": "rwkv7", "hidden_size": 32, "num_hidden_layers": 2, "num_heads": 2, "head_dim": 16, "a_low_rank_dim": 4, "decay_low_rank_dim": 4, "gate_low_rank_dim": 4, "v_low_rank_dim": 4, "vocab_size": 40})",
        };
        int deletions = 0;
        std::vector<std::string> silent;
        for (size_t c = 0; c < configs.size(); ++c) {
            write_file(path("variant.json"), configs[c]);
            const std::string src = path("variant");
            fs::remove_all(src);
            save_checkpoint(*load_synthetic_model(path("variant.json"), uint32_t(c + 1)), src, DType::F32);
            load_model(src); // whole, it loads
            const std::vector<OutputTensor> all = read_all(src + "/model.safetensors");
            const std::string dir = path("variant_deleted");
            for (size_t drop = 0; drop < all.size(); ++drop) {
                fs::remove_all(dir);
                fs::create_directories(dir);
                fs::copy_file(src + "/config.json", dir + "/config.json");
                std::vector<OutputTensor> kept;
                for (size_t i = 0; i < all.size(); ++i)
                    if (i != drop) kept.push_back(all[i]);
                write_safetensors(dir + "/model.safetensors", kept);
                ++deletions;
                try {
                    load_model(dir);
                    silent.push_back(configs[c].substr(0, 40) + "...: " + all[drop].name);
                } catch (const Error& e) {
                    const std::string msg = e.what();
                    QVERIFY2(msg.find(all[drop].name) != std::string::npos && msg.find("model.safetensors") != std::string::npos,
                             qPrintable(QString::fromStdString(configs[c] + " without " + all[drop].name + ": " + msg)));
                }
            }
        }
        std::string list;
        for (const std::string& s : silent) list += "\n  " + s;
        QVERIFY2(silent.empty(), qPrintable(QString("%1 of %2 deletions loaded silently:%3")
                                                .arg(silent.size()).arg(deletions).arg(QString::fromStdString(list))));
        qInfo("%d single-tensor deletions of %zu variant configs, all refused by name", deletions, configs.size());
    }

    // Files and prompts past the stated limits (statescope/limits.h) are refused with the limit
    // named, before anything is allocated for them. The big files are sparse: nothing is written.
    void oversized_inputs_are_refused_by_limit() {
        fs::create_directories(path("huge"));
        write_file(path("huge/config.json"), kGoodConfig);
        fs::resize_file(path("huge/config.json"), limits::kMaxTextFileBytes + 1);
        expect_error([&] { load_model(path("huge")); }, {"config.json", "over the limit", "text files"});

        const uint64_t header = limits::kMaxSafetensorsHeaderBytes + 16;
        std::string head(8, '\0');
        for (int i = 0; i < 8; ++i) head[size_t(i)] = char((header >> (8 * i)) & 0xFF);
        write_file(path("huge/model.safetensors"), head + "{");
        fs::resize_file(path("huge/model.safetensors"), 8 + header + 64);
        expect_error([&] { SafetensorsFile f(path("huge/model.safetensors")); }, {"model.safetensors", "the header", "over the limit"});

        const std::string prompt(limits::kMaxPromptBytes + 1, 'a');
        expect_error([&] { frames::tokens_from_text(prompt); }, {"over the limit", "prompts"});
    }

    void token_out_of_range() {
        auto m = load_model(testsupport::reference_dir() + "/models/gla");
        SequenceState st = m->initial_state();
        std::vector<int32_t> ids = {1, 2, 100000};
        expect_error([&] { m->forward(ids, st); }, {"token id 100000", "position 2", "vocabulary of 512"});
    }
};

QTEST_GUILESS_MAIN(TestLoadingErrors)
#include "test_loading_errors.moc"
