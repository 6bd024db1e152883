// Checkpoint layouts real models ship in: sharded (model.safetensors.index.json), F32, F16 and
// BF16 tensors. The same weights in any of these layouts must give the same logits.
#include "core/checkpoint.h"
#include "statescope/error.h"
#include "statescope/safetensors.h"
#include "statescope/model.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

using namespace statescope;
namespace fs = std::filesystem;

namespace {

std::vector<float> logits_of(const std::string& dir, const std::vector<int32_t>& ids) {
    auto m = load_model(dir);
    SequenceState st = m->initial_state();
    return m->forward(ids, st).logits.data;
}

// Writes the tensors of `src` into `dst` as `shards` files with an index, every tensor stored as
// `dtype` (the reader upcasts it back exactly).
void rewrite(const std::string& src, const std::string& dst, int shards, DType dtype) {
    fs::create_directories(dst);
    fs::copy_file(src + "/config.json", dst + "/config.json");
    SafetensorsFile in(src + "/model.safetensors");
    std::vector<std::vector<OutputTensor>> parts(static_cast<size_t>(shards));
    std::string index = "{\"metadata\": {}, \"weight_map\": {";
    size_t i = 0;
    for (const TensorEntry& e : in.tensors()) {
        const size_t s = i++ % size_t(shards);
        parts[s].push_back({e.name, e.shape, SafetensorsFile::to_f32(e), {}, dtype});
        const std::string file = shards == 1 ? "model.safetensors"
                                             : "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
        index += (i > 1 ? ", \"" : "\"") + e.name + "\": \"" + file + "\"";
    }
    index += "}}";
    for (int s = 0; s < shards; ++s) {
        const std::string file = shards == 1 ? "model.safetensors"
                                             : "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
        write_safetensors(dst + "/" + file, parts[size_t(s)]);
    }
    if (shards > 1) std::ofstream(dst + "/model.safetensors.index.json") << index;
}

} // namespace

class TestCheckpointFormats : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    const std::vector<int32_t> ids_ = {3, 141, 59, 26, 53, 5, 8, 97, 93, 23};

private slots:
    // A tensor with no elements is valid safetensors; reading it gives no values (and no memcpy
    // from the null pointer of its empty data, which UBSan reports).
    void zero_element_tensor_reads_empty() {
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("empty.safetensors").toStdString();
        const std::string header = R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})";
        std::ofstream f(path, std::ios::binary);
        const uint64_t n = header.size();
        for (int i = 0; i < 8; ++i) f.put(char((n >> (8 * i)) & 0xff));
        f << header;
        f.close();
        SafetensorsFile file(path);
        const TensorEntry* e = file.find("e");
        QVERIFY(e != nullptr);
        QCOMPARE(e->nbytes, size_t(0));
        QVERIFY(SafetensorsFile::to_f32(*e).empty());
    }

    void sharded_f32_copy_of_bf16_model_is_identical() {
        // gla is stored in BF16; BF16 -> F32 is exact, so the logits must agree bit for bit.
        const std::string src = testsupport::reference_dir() + "/models/gla";
        const std::string dst = tmp_.path().toStdString() + "/gla_sharded";
        rewrite(src, dst, 3, DType::F32);
        QVERIFY(fs::exists(dst + "/model.safetensors.index.json"));
        QVERIFY(!fs::exists(dst + "/model.safetensors"));
        QCOMPARE(logits_of(dst, ids_), logits_of(src, ids_));
        auto ck = Checkpoint::open(dst);
        QCOMPARE(ck->storage_dtype(), std::string("F32"));
    }

    void bf16_rewrite_is_identical() {
        const std::string src = testsupport::reference_dir() + "/models/gla";
        const std::string dst = tmp_.path().toStdString() + "/gla_bf16";
        rewrite(src, dst, 1, DType::BF16);
        QCOMPARE(logits_of(dst, ids_), logits_of(src, ids_));
    }

    void f16_weights_are_upcast_exactly() {
        // Writing F16 rounds the weights; the same rounded values stored as F32 must give the
        // exact same logits, which shows the F16 path upcasts without further error.
        const std::string src = testsupport::reference_dir() + "/models/gla";
        const std::string f16 = tmp_.path().toStdString() + "/gla_f16";
        const std::string f32 = tmp_.path().toStdString() + "/gla_f16_as_f32";
        rewrite(src, f16, 1, DType::F16);
        rewrite(f16, f32, 1, DType::F32);
        QCOMPARE(Checkpoint::open(f16)->storage_dtype(), std::string("F16"));
        const std::vector<float> a = logits_of(f16, ids_), b = logits_of(f32, ids_);
        QCOMPARE(a, b);
        // And F16 rounding of BF16 weights changes the logits only a little.
        const std::vector<float> orig = logits_of(src, ids_);
        QVERIFY(relative_l2(a.data(), orig.data(), a.size()) < 1e-2);
    }

    void index_naming_a_missing_shard() {
        const std::string dst = tmp_.path().toStdString() + "/broken_index";
        fs::create_directories(dst);
        fs::copy_file(testsupport::reference_dir() + "/models/gla/config.json", dst + "/config.json");
        std::ofstream(dst + "/model.safetensors.index.json") << R"({"weight_map": {"lm_head.weight": "model-00001-of-00002.safetensors"}})";
        try {
            load_model(dst);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find("model-00001-of-00002.safetensors") != std::string::npos);
        }
    }
};

QTEST_GUILESS_MAIN(TestCheckpointFormats)
#include "test_checkpoint_formats.moc"
