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
