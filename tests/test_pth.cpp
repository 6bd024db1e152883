// PyTorch checkpoints (issue 20), read without running code from them. The fixtures in
// tests/data/pth were written by torch.save itself (tools/make_pth_fixtures.py): every reference
// model's state dict, a legacy-format file, layouts with torch's own values (layouts.json), a
// nested state dict and three malicious pickles. Each reference family's .pth must give exactly
// the tensors of its model.safetensors and, as a model folder, exactly the same logits.
#include "core/checkpoint.h"
#include "core/pickle_reader.h"
#include "core/pth_file.h"
#include "core/zip_reader.h"
#include "statescope/convert.h"
#include "statescope/error.h"
#include "statescope/model.h"
#include "statescope/safetensors.h"
#include "test_support.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

using namespace statescope;
namespace fs = std::filesystem;

namespace {

const std::string kPthDir = std::string(STATESCOPE_SOURCE_DIR) + "/tests/data/pth";

std::string model_dir(const std::string& family) { return testsupport::reference_dir() + "/models/" + family; }

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// Runs fn, which must throw statescope::Error whose message holds every needle.
void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> needles) {
    try {
        fn();
    } catch (const Error& e) {
        const std::string msg = e.what();
        for (const std::string& n : needles)
            QVERIFY2(msg.find(n) != std::string::npos, qPrintable(QString("message \"%1\" lacks \"%2\"").arg(msg.c_str(), n.c_str())));
        return;
    }
    QFAIL("expected statescope::Error");
}

// Reads bytes as a checkpoint, from an exact-size copy (so a read past the end is one a sanitizer
// sees). Returns "" when it loads, the message when it is refused; anything else escaping (a
// crash, std::bad_alloc, a foreign exception) fails the test.
std::string try_read(const std::vector<uint8_t>& bytes, size_t size, const std::string& name) {
    std::vector<uint8_t> copy(bytes.begin(), bytes.begin() + std::ptrdiff_t(size));
    try {
        PthFile f(copy.data(), copy.size(), name);
        return "";
    } catch (const Error& e) {
        return e.what();
    }
}

uint16_t u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t u32(const uint8_t* p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24); }
void put32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i)); }

// Offset of the central directory record of entry `name` (found by its signature and name).
size_t central_record(const std::vector<uint8_t>& zip, const std::string& name) {
    for (size_t at = 0; at + 46 <= zip.size(); ++at)
        if (u32(&zip[at]) == 0x02014b50 && u16(&zip[at + 28]) == name.size() && at + 46 + name.size() <= zip.size() &&
            std::memcmp(&zip[at + 46], name.data(), name.size()) == 0)
            return at;
    return SIZE_MAX;
}

// A folder of the family's config.json and its .pth under `weights_name`.
std::string pth_folder(const QTemporaryDir& tmp, const std::string& family, const std::string& weights_name) {
    const std::string dir = tmp.path().toStdString() + "/" + family + "_pth";
    fs::create_directories(dir);
    fs::copy_file(model_dir(family) + "/config.json", dir + "/config.json", fs::copy_options::overwrite_existing);
    fs::copy_file(kPthDir + "/" + family + ".pth", dir + "/" + weights_name, fs::copy_options::overwrite_existing);
    return dir;
}

std::vector<int32_t> reference_input(const std::string& family) {
    SafetensorsFile ref(model_dir(family) + "/reference.safetensors");
    const TensorEntry* ids = ref.find("input_ids");
    if (!ids) return {};
    std::vector<int32_t> out;
    for (int64_t v : SafetensorsFile::to_i64(*ids)) out.push_back(int32_t(v));
    return out;
}

std::vector<float> logits_of(const std::string& dir, const std::vector<int32_t>& ids) {
    auto m = load_model(dir);
    SequenceState st = m->initial_state();
    return m->forward(ids, st).logits.data;
}

// Records a failure unless the two files hold the same tensors: names, dtypes, shapes, bytes.
void expect_same_tensors(const std::vector<TensorEntry>& got, const SafetensorsFile& want, const std::string& what) {
    QCOMPARE(got.size(), want.tensors().size());
    for (const TensorEntry& w : want.tensors()) {
        const TensorEntry* g = nullptr;
        for (const TensorEntry& e : got)
            if (e.name == w.name) g = &e;
        QVERIFY2(g, qPrintable(QString::fromStdString(what + ": no tensor " + w.name)));
        QVERIFY2(g->dtype == w.dtype, qPrintable(QString::fromStdString(what + ": dtype of " + w.name)));
        QVERIFY2(g->shape == w.shape, qPrintable(QString::fromStdString(what + ": shape of " + w.name)));
        QCOMPARE(g->nbytes, w.nbytes);
        QVERIFY2(w.nbytes == 0 || std::memcmp(g->data, w.data, w.nbytes) == 0,
                 qPrintable(QString::fromStdString(what + ": bytes of " + w.name)));
    }
}


// The rwkv7 reference's tensors under BlinkDL RWKV-LM's names and layouts, the inverse of fla's
// utils/convert_from_rwkv7.py: LoRA matrices transposed back, LoRA biases and vectors as
// [1, 1, C], plus layer 0's v0/v1/v2, which RWKV-LM keeps and never uses. Written to `path`.
void write_rwkv_lm_rwkv7(const std::string& path) {
    SafetensorsFile fla(model_dir("rwkv7") + "/model.safetensors");
    std::vector<std::unique_ptr<TensorEntry>> out;
    std::vector<std::vector<uint8_t>> bytes;
    bytes.reserve(fla.tensors().size() + 3);
    auto add = [&](const std::string& name, const TensorEntry& src, std::vector<int64_t> shape, bool transpose) {
        bytes.emplace_back(src.data, src.data + src.nbytes);
        if (transpose) {
            const size_t rows = size_t(src.shape[0]), cols = size_t(src.shape[1]), es = dtype_size(src.dtype);
            for (size_t r = 0; r < rows; ++r)
                for (size_t c = 0; c < cols; ++c)
                    std::memcpy(&bytes.back()[(c * rows + r) * es], src.data + (r * cols + c) * es, es);
        }
        auto e = std::make_unique<TensorEntry>(src);
        e->name = name;
        e->shape = std::move(shape);
        e->data = bytes.back().data();
        out.push_back(std::move(e));
    };
    const std::map<std::string, std::string> proj = {{"r_proj", "receptance"}, {"k_proj", "key"}, {"v_proj", "value"},
                                                     {"o_proj", "output"},     {"g_norm", "ln_x"}};
    const std::map<std::string, std::string> norms = {{"pre_norm", "ln0"}, {"attn_norm", "ln1"}, {"ffn_norm", "ln2"}};
    for (const TensorEntry& e : fla.tensors()) {
        const std::string& n = e.name;
        const std::vector<int64_t> row = {1, 1, e.shape.back()};
        if (n == "model.embeddings.weight") { add("emb.weight", e, e.shape, false); continue; }
        if (n == "lm_head.weight") { add("head.weight", e, e.shape, false); continue; }
        if (n.rfind("model.norm.", 0) == 0) { add("ln_out." + n.substr(11), e, e.shape, false); continue; }
        // model.layers.N.<part>.<rest>
        const size_t a = n.find('.', 13), b = n.find('.', a + 1);
        const std::string layer = n.substr(13, a - 13), part = n.substr(a + 1, b - a - 1), rest = n.substr(b + 1);
        const std::string block = "blocks." + layer + ".";
        if (norms.count(part)) { add(block + norms.at(part) + "." + rest, e, e.shape, false); continue; }
        if (part == "ffn") { add(block + "ffn." + rest, e, rest == "x_k" ? row : e.shape, false); continue; }
        const std::string head = rest.substr(0, rest.find('.'));
        if (proj.count(head)) { add(block + "att." + proj.at(head) + rest.substr(head.size()), e, e.shape, false); continue; }
        if (rest.size() > 6 && rest.compare(1, 6, "_lora.") == 0) {
            const std::string which = rest.substr(0, 1);
            if (rest.ends_with("lora.2.bias")) add(block + "att." + which + "0", e, row, false);
            else if (rest.ends_with("lora.0.weight")) add(block + "att." + which + "1", e, {e.shape[1], e.shape[0]}, true);
            else add(block + "att." + which + "2", e, {e.shape[1], e.shape[0]}, true);
            continue;
        }
        add(block + "att." + rest, e, rest == "k_k" || rest == "k_a" ? row : e.shape, false);
    }
    // Layer 0's unused v LoRA, as RWKV-LM saves it (layer 1's shapes).
    for (const char* v : {"0", "1", "2"})
        for (const auto& e : out)
            if (e->name == std::string("blocks.1.att.v") + v) {
                TensorEntry copy = *e;
                add(std::string("blocks.0.att.v") + v, copy, copy.shape, false);
                break;
            }
    std::vector<const TensorEntry*> list;
    for (const auto& e : out) list.push_back(e.get());
    write_safetensors(path, list);
}


// A ZIP archive of stored entries, as torch.save lays one out (without ZIP64), for hand-made
// pickles.
std::vector<uint8_t> make_zip(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& entries) {
    std::vector<uint8_t> out, directory;
    auto le = [](std::vector<uint8_t>& v, uint64_t x, int n) { for (int i = 0; i < n; ++i) v.push_back(uint8_t(x >> (8 * i))); };
    for (const auto& [name, data] : entries) {
        const uint32_t crc = crc32(data.data(), data.size());
        const size_t local = out.size();
        le(out, 0x04034b50, 4); le(out, 20, 2); le(out, 0, 2); le(out, 0, 2); le(out, 0, 4);
        le(out, crc, 4); le(out, data.size(), 4); le(out, data.size(), 4); le(out, name.size(), 2); le(out, 0, 2);
        out.insert(out.end(), name.begin(), name.end());
        out.insert(out.end(), data.begin(), data.end());
        le(directory, 0x02014b50, 4); le(directory, 20, 2); le(directory, 20, 2); le(directory, 0, 2); le(directory, 0, 2);
        le(directory, 0, 4); le(directory, crc, 4); le(directory, data.size(), 4); le(directory, data.size(), 4);
        le(directory, name.size(), 2); le(directory, 0, 2); le(directory, 0, 2); le(directory, 0, 2); le(directory, 0, 2);
        le(directory, 0, 4); le(directory, local, 4);
        directory.insert(directory.end(), name.begin(), name.end());
    }
    const size_t cd = out.size();
    out.insert(out.end(), directory.begin(), directory.end());
    le(out, 0x06054b50, 4); le(out, 0, 2); le(out, 0, 2); le(out, entries.size(), 2); le(out, entries.size(), 2);
    le(out, directory.size(), 4); le(out, cd, 4); le(out, 0, 2);
    return out;
}

// Pickle bytes from opcodes written as a string.
std::vector<uint8_t> pickle_bytes(const std::string& ops) { return std::vector<uint8_t>(ops.begin(), ops.end()); }

} // namespace

class TestPth : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;

private slots:
    void family_data() {
        QTest::addColumn<QString>("family");
        const QStringList names = testsupport::reference_model_names();
        QVERIFY2(names.size() >= 12, "expected the twelve reference folders in ../shared/reference/models");
        for (const QString& n : names) QTest::newRow(n.toUtf8()) << n;
    }

    // The .pth torch.save wrote from model.safetensors holds exactly its tensors.
    void pth_holds_the_safetensors_tensors_data() { family_data(); }
    void pth_holds_the_safetensors_tensors() {
        QFETCH(QString, family);
        const std::string f = family.toStdString();
        PthFile pth(kPthDir + "/" + f + ".pth");
        SafetensorsFile st(model_dir(f) + "/model.safetensors");
        expect_same_tensors(pth.tensors(), st, pth.path());
    }

    // A folder of config.json and the .pth loads as the safetensors folder does and gives the
    // same logits on the reference input, bit for bit. Half the families name it
    // pytorch_model.bin, half model.pth.
    void pth_folder_gives_identical_logits_data() { family_data(); }
    void pth_folder_gives_identical_logits() {
        QFETCH(QString, family);
        const std::string f = family.toStdString();
        const std::string weights = QTest::currentDataTag()[0] < 'h' ? "pytorch_model.bin" : "model.pth";
        const std::string dir = pth_folder(tmp_, f, weights);
        QCOMPARE(Checkpoint::open(dir)->file_of(Checkpoint::open(dir)->tensor_names().front()), dir + "/" + weights);
        const std::vector<int32_t> ids = reference_input(f);
        QVERIFY(!ids.empty());
        const std::vector<float> a = logits_of(dir, ids), b = logits_of(model_dir(f), ids);
        QCOMPARE(a.size(), b.size());
        QVERIFY2(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0, "logits differ");
    }

    // statescope-cli verify accepts the .pth folder and passes the family's reference.
    void cli_verify_accepts_pth_folder_data() { family_data(); }
    void cli_verify_accepts_pth_folder() {
        QFETCH(QString, family);
        const std::string f = family.toStdString();
        const std::string dir = pth_folder(tmp_, f, "model.pth");
        QProcess p;
        p.start(STATESCOPE_CLI, {"verify", QString::fromStdString(dir), "--reference",
                                 QString::fromStdString(model_dir(f) + "/reference.safetensors")});
        QVERIFY(p.waitForFinished(600000));
        const QString out = QString::fromUtf8(p.readAllStandardOutput()).trimmed();
        if (p.exitCode() != 0) qWarning().noquote() << out << p.readAllStandardError();
        QCOMPARE(p.exitCode(), 0);
        QVERIFY2(out.split('\n').last().endsWith(" 0 failed"), qPrintable(out.split('\n').last()));
    }

    // statescope-cli convert writes a safetensors folder with the same tensors (dtypes and bytes
    // unchanged) and config.json, and refuses to overwrite it.
    void convert_round_trips_data() { family_data(); }
    void convert_round_trips() {
        QFETCH(QString, family);
        const std::string f = family.toStdString();
        const std::string in = pth_folder(tmp_, f, "model.pth");
        const std::string out = tmp_.path().toStdString() + "/" + f + "_converted";
        QProcess p;
        p.start(STATESCOPE_CLI, {"convert", QString::fromStdString(in), QString::fromStdString(out)});
        QVERIFY(p.waitForFinished(600000));
        QCOMPARE(p.exitCode(), 0);
        SafetensorsFile original(model_dir(f) + "/model.safetensors");
        SafetensorsFile converted(out + "/model.safetensors");
        expect_same_tensors(converted.tensors(), original, converted.path());
        QCOMPARE(read_bytes(out + "/config.json"), read_bytes(model_dir(f) + "/config.json"));
        p.start(STATESCOPE_CLI, {"convert", QString::fromStdString(in), QString::fromStdString(out)});
        QVERIFY(p.waitForFinished(600000));
        QCOMPARE(p.exitCode(), 1);
        QVERIFY(QString::fromUtf8(p.readAllStandardError()).contains("already exists"));
    }

    // Every tensor of layouts.pth has torch's dtype, shape and values (layouts.json): strided
    // views materialised in row-major order, a storage offset honoured, a shared storage read
    // twice, a scalar.
    void layouts_match_torch() {
        PthFile pth(kPthDir + "/layouts.pth");
        const Json want = Json::parse(read_text_file(kPthDir + "/layouts.json"), "layouts.json");
        QCOMPARE(pth.tensors().size(), want.members().size());
        const std::map<std::string, DType> dtypes = {
            {"float32", DType::F32}, {"float16", DType::F16}, {"bfloat16", DType::BF16}, {"int64", DType::I64}};
        for (const auto& [name, w] : want.members()) {
            const TensorEntry* e = pth.find(name);
            QVERIFY2(e, name.c_str());
            QVERIFY2(dtypes.count(w.find("dtype")->as_string()), name.c_str());
            QVERIFY2(e->dtype == dtypes.at(w.find("dtype")->as_string()), name.c_str());
            std::vector<int64_t> shape;
            for (const Json& d : w.find("shape")->items()) shape.push_back(d.as_int());
            QVERIFY2(e->shape == shape, name.c_str());
            const auto& values = w.find("values")->items();
            if (e->dtype == DType::I64) {
                const std::vector<int64_t> got = SafetensorsFile::to_i64(*e);
                QCOMPARE(got.size(), values.size());
                for (size_t i = 0; i < got.size(); ++i) QCOMPARE(double(got[i]), values[i].as_number());
            } else {
                const std::vector<float> got = SafetensorsFile::to_f32(*e);
                QCOMPARE(got.size(), values.size());
                for (size_t i = 0; i < got.size(); ++i)
                    QVERIFY2(double(got[i]) == values[i].as_number(), qPrintable(QString("%1[%2]").arg(name.c_str()).arg(i)));
            }
        }
        QCOMPARE(pth.find("scalar")->shape, std::vector<int64_t>{});
    }

    // {"state_dict": {...}, "epoch": 3}: the inner dict is the state dict.
    void nested_state_dict_gives_inner_tensors() {
        PthFile pth(kPthDir + "/nested.pth");
        QCOMPARE(pth.tensors().size(), size_t(1));
        const TensorEntry* w = pth.find("w");
        QVERIFY(w);
        QCOMPARE(w->shape, (std::vector<int64_t>{2, 2}));
        QCOMPARE(SafetensorsFile::to_f32(*w), std::vector<float>(4, 1.0f));
    }

    void malicious_pickles_are_refused_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("global");
        QTest::newRow("os.system") << "evil_system" << "posix.system";
        QTest::newRow("eval") << "evil_eval" << "builtins.eval";
        QTest::newRow("getattr") << "evil_getattr" << "builtins.getattr";
    }
    void malicious_pickles_are_refused() {
        QFETCH(QString, file);
        QFETCH(QString, global);
        const std::string path = kPthDir + "/" + file.toStdString() + ".pth";
        expect_error([&] { PthFile f(path); },
                     {path + ": data.pkl calls " + global.toStdString() + ", which a state dict never needs",
                      "no code from the file is run"});
        // And through a model folder, as the CLI and the app open it.
        const std::string dir = tmp_.path().toStdString() + "/" + file.toStdString();
        fs::create_directories(dir);
        fs::copy_file(model_dir("mamba") + "/config.json", dir + "/config.json", fs::copy_options::overwrite_existing);
        fs::copy_file(path, dir + "/pytorch_model.bin", fs::copy_options::overwrite_existing);
        expect_error([&] { load_model(dir); }, {dir + "/pytorch_model.bin", global.toStdString()});
    }

    // The legacy format (pickles in a row, then the storages) gives the same tensors and logits;
    // cut anywhere, it is refused by name.
    void legacy_format_is_read() {
        const std::string path = kPthDir + "/legacy_mamba.pth";
        PthFile pth(path);
        expect_same_tensors(pth.tensors(), SafetensorsFile(model_dir("mamba") + "/model.safetensors"), path);
        const std::string dir = tmp_.path().toStdString() + "/legacy";
        fs::create_directories(dir);
        fs::copy_file(model_dir("mamba") + "/config.json", dir + "/config.json");
        fs::copy_file(path, dir + "/pytorch_model.bin");
        const std::vector<int32_t> ids = reference_input("mamba");
        QCOMPARE(logits_of(dir, ids), logits_of(model_dir("mamba"), ids));
        const std::vector<uint8_t> bytes = read_bytes(path);
        for (size_t cut = 0; cut < bytes.size(); cut += (cut < 4000 ? 1 : 997)) {
            const std::string msg = try_read(bytes, cut, "legacy_mamba.pth");
            QVERIFY2(!msg.empty(), qPrintable(QString("cut at %1 bytes was accepted").arg(cut)));
            QVERIFY2(msg.rfind("legacy_mamba.pth", 0) == 0, msg.c_str());
        }
    }

    // pytorch_model.bin.index.json: sharded PyTorch weights, read like a sharded safetensors folder.
    void sharded_pytorch_index() {
        const std::string dir = tmp_.path().toStdString() + "/sharded_bin";
        fs::create_directories(dir);
        fs::copy_file(model_dir("mamba2") + "/config.json", dir + "/config.json");
        fs::copy_file(kPthDir + "/mamba2.pth", dir + "/pytorch_model-00001-of-00001.bin");
        // (Plain strings: moc misreads braces inside raw strings.)
        std::string index = "{\"metadata\": {}, \"weight_map\": {";
        PthFile pth(kPthDir + "/mamba2.pth");
        for (const TensorEntry& e : pth.tensors())
            index += (index.back() == '{' ? "\"" : ", \"") + e.name + "\": \"pytorch_model-00001-of-00001.bin\"";
        std::ofstream(dir + "/pytorch_model.bin.index.json") << index << "}}";
        QCOMPARE(Checkpoint::open(dir)->file_of("backbone.norm_f.weight"), dir + "/pytorch_model-00001-of-00001.bin");
        const std::vector<int32_t> ids = reference_input("mamba2");
        QCOMPARE(logits_of(dir, ids), logits_of(model_dir("mamba2"), ids));
    }

    // Dicts sharing dicts: a chain of 60 dicts each naming the next twice would take 2^60 steps to
    // walk; a dict inside itself, forever. Both are refused by a limit, quickly.
    // A storage type the engine has no dtype for is named as such, not as code.
    void unknown_storage_type_is_named() {
        static const char raw[] = "\x80\x02}q\x00X\x01\x00\x00\x00" "ac" "torch\nFloat8_e4m3fnStorage\n" "s.";
        const std::vector<uint8_t> zip = make_zip({{"m/data.pkl", pickle_bytes(std::string(raw, sizeof raw - 1))}});
        expect_error([&] { PthFile f(zip.data(), zip.size(), "f8.pth"); },
                     {"f8.pth: data.pkl: stores tensors as torch.Float8_e4m3fnStorage, which Statescope does not read"});
    }

    void shared_and_cyclic_dicts_are_bounded() {
        using namespace std::string_literals; // "..."s keeps the NUL bytes
        std::string chain = "\x80\x02}q\x00"s;
        for (int i = 1; i <= 60; ++i)
            chain += "}q"s + char(i) + "(X\x01\x00\x00\x00"s + "ah" + char(i - 1) + "X\x01\x00\x00\x00"s + "bh" + char(i - 1) + "u";
        chain += ".";
        QElapsedTimer timer;
        timer.start();
        std::vector<uint8_t> zip = make_zip({{"m/data.pkl", pickle_bytes(chain)}});
        expect_error([&] { PthFile f(zip.data(), zip.size(), "chain.pth"); }, {"chain.pth", "pickle objects"});
        QVERIFY(timer.elapsed() < 20000);
        const std::string cycle = std::string("\x80\x02}q\x00X\x01\x00\x00\x00" "ah\x00s.", 15); // d = {}; d["a"] = d
        zip = make_zip({{"m/data.pkl", pickle_bytes(cycle)}});
        expect_error([&] { PthFile f(zip.data(), zip.size(), "cycle.pth"); }, {"cycle.pth", "pickle nesting"});
        // The hand-made archive itself is sound: a plain empty-dict pickle is read (and holds no tensors).
        zip = make_zip({{"m/data.pkl", pickle_bytes(std::string("\x80\x02}.", 4))}});
        expect_error([&] { PthFile f(zip.data(), zip.size(), "empty.pth"); }, {"empty.pth", "holds no tensors"});
    }

    // A session can be saved from a .pth folder (its identity comes from the checkpoint's tensors)
    // and read back.
    void session_of_pth_folder() {
        const std::string dir = pth_folder(tmp_, "gla", "model.pth");
        const QString file = tmp_.filePath("gla_pth.statescope");
        QProcess p;
        p.start(STATESCOPE_CLI, {"session", "save", QString::fromStdString(dir), "--tokens", "1,2,3", "--out", file});
        QVERIFY(p.waitForFinished(600000));
        if (p.exitCode() != 0) qWarning().noquote() << p.readAllStandardError();
        QCOMPARE(p.exitCode(), 0);
        p.start(STATESCOPE_CLI, {"session", "info", file});
        QVERIFY(p.waitForFinished(600000));
        QCOMPARE(p.exitCode(), 0);
        QVERIFY(QString::fromUtf8(p.readAllStandardOutput()).contains("identity"));
    }

    // The folder's weight file: safetensors before PyTorch's, one stray .pth found by itself,
    // two refused.
    void weight_file_choice() {
        const std::string dir = tmp_.path().toStdString() + "/choice";
        fs::create_directories(dir);
        fs::copy_file(model_dir("mamba") + "/config.json", dir + "/config.json");
        fs::copy_file(kPthDir + "/mamba.pth", dir + "/rwkv-like-release-name.pth");
        QCOMPARE(Checkpoint::open(dir)->file_of("backbone.norm_f.weight"), dir + "/rwkv-like-release-name.pth");
        fs::copy_file(kPthDir + "/mamba.pth", dir + "/another.pt");
        expect_error([&] { Checkpoint::open(dir); }, {dir, "several PyTorch checkpoints"});
        fs::copy_file(model_dir("mamba") + "/model.safetensors", dir + "/model.safetensors");
        QCOMPARE(Checkpoint::open(dir)->file_of("backbone.norm_f.weight"), dir + "/model.safetensors");
    }

    // BlinkDL RWKV-LM's RWKV-7 names: renamed to the rwkv7 family's, the config inferred from
    // the shapes when the folder has none (F.normalize and nn.GroupNorm, as RWKV-LM computes, so
    // within 1e-5 of fla's fused norms), a config.json beside it taking over (then bit for bit).
    void rwkv_lm_names_open_as_rwkv7() {
        const std::string dir = tmp_.path().toStdString() + "/rwkv_lm";
        fs::create_directories(dir);
        write_rwkv_lm_rwkv7(dir + "/model.safetensors");
        auto ck = Checkpoint::open(dir);
        QVERIFY(ck->has("model.layers.1.attn.v_lora.lora.0.weight"));
        QVERIFY(!ck->has("model.layers.0.attn.v_lora.lora.0.weight"));
        QVERIFY(!ck->has("blocks.0.att.r_k"));
        const Json ref = Json::parse(read_text_file(model_dir("rwkv7") + "/config.json"), "config.json");
        for (const char* key : {"vocab_size", "hidden_size", "num_hidden_layers", "num_heads", "head_dim", "decay_low_rank_dim",
                                "a_low_rank_dim", "v_low_rank_dim", "gate_low_rank_dim"})
            QVERIFY2(ck->config().get_int(key) == ref.find(key)->as_int(), key);
        QCOMPARE(ck->config().get_string("model_type"), std::string("rwkv7"));
        const std::vector<int32_t> ids = reference_input("rwkv7");
        const std::vector<float> inferred = logits_of(dir, ids), reference = logits_of(model_dir("rwkv7"), ids);
        QCOMPARE(inferred.size(), reference.size());
        double err = 0, norm = 0;
        for (size_t i = 0; i < inferred.size(); ++i) {
            err += (double(inferred[i]) - reference[i]) * (double(inferred[i]) - reference[i]);
            norm += double(reference[i]) * reference[i];
        }
        QVERIFY2(std::sqrt(err / norm) < 1e-5, qPrintable(QString("relative error %1").arg(std::sqrt(err / norm))));

        // convert writes fla's names and the inferred config.
        const std::string out = tmp_.path().toStdString() + "/rwkv_lm_converted";
        convert_to_safetensors(dir, out);
        QVERIFY(SafetensorsFile(out + "/model.safetensors").find("model.layers.0.attn.w_lora.lora.0.weight"));
        QCOMPARE(logits_of(out, ids), inferred);

        fs::copy_file(model_dir("rwkv7") + "/config.json", dir + "/config.json");
        QCOMPARE(logits_of(dir, ids), reference);
    }

    void rwkv_lm_unknown_tensor_is_named() {
        const std::string dir = tmp_.path().toStdString() + "/rwkv_lm_extra";
        fs::create_directories(dir);
        write_rwkv_lm_rwkv7(dir + "/model.safetensors");
        SafetensorsFile in(dir + "/model.safetensors");
        std::vector<const TensorEntry*> list;
        for (const TensorEntry& e : in.tensors()) list.push_back(&e);
        TensorEntry extra = in.tensors().front();
        extra.name = "blocks.0.att.time_faaaa";
        list.push_back(&extra);
        write_safetensors(dir + "/with_extra.safetensors", list);
        fs::remove(dir + "/model.safetensors");
        fs::rename(dir + "/with_extra.safetensors", dir + "/model.safetensors");
        expect_error([&] { Checkpoint::open(dir); }, {"model.safetensors", "blocks.0.att.time_faaaa", "RWKV-LM"});
    }

    // Cut anywhere, an archive is refused with its name; never a crash.
    void truncated_archives_are_refused() {
        for (const char* file : {"layouts.pth", "mamba.pth"}) {
            const std::vector<uint8_t> bytes = read_bytes(kPthDir + "/" + file);
            QVERIFY(bytes.size() > 1000);
            const size_t step = bytes.size() < 10000 ? 1 : bytes.size() / 997;
            for (size_t cut = 0; cut < bytes.size(); cut += step) {
                const std::string msg = try_read(bytes, cut, file);
                QVERIFY2(!msg.empty(), qPrintable(QString("%1 cut at %2 bytes was accepted").arg(file).arg(cut)));
                QVERIFY2(msg.rfind(file, 0) == 0, msg.c_str());
            }
            QVERIFY(try_read(bytes, bytes.size(), file).empty());
        }
    }

    // Every byte of the central directory and end records flipped in turn: refused with the
    // file's name, or (a field the reader does not need, such as a date) read as before.
    void flipped_directory_bytes_never_crash() {
        const std::vector<uint8_t> bytes = read_bytes(kPthDir + "/layouts.pth");
        const size_t cd = central_record(bytes, "layouts/data.pkl");
        QVERIFY(cd != SIZE_MAX);
        size_t refused = 0, total = 0;
        for (size_t at = cd; at < bytes.size(); ++at, ++total) {
            std::vector<uint8_t> b = bytes;
            b[at] ^= 0xFF;
            const std::string msg = try_read(b, b.size(), "layouts.pth");
            if (msg.empty()) continue;
            ++refused;
            QVERIFY2(msg.rfind("layouts.pth", 0) == 0, msg.c_str());
        }
        QVERIFY2(refused > total / 2, qPrintable(QString("only %1 of %2 flips refused").arg(refused).arg(total)));
    }

    // A flipped byte of data.pkl is caught by its CRC before the unpickler sees it.
    void corrupt_pickle_is_caught_by_crc() {
        std::vector<uint8_t> bytes = read_bytes(kPthDir + "/layouts.pth");
        const size_t cd = central_record(bytes, "layouts/data.pkl");
        const size_t local = u32(&bytes[cd + 42]);
        const size_t data = local + 30 + u16(&bytes[local + 26]) + u16(&bytes[local + 28]);
        bytes[data + 100] ^= 0x01;
        expect_error([&] { PthFile f(bytes.data(), bytes.size(), "layouts.pth"); }, {"layouts.pth", "layouts/data.pkl", "CRC"});
    }

    void entry_beyond_the_end_is_refused() {
        const std::vector<uint8_t> bytes = read_bytes(kPthDir + "/layouts.pth");
        const size_t cd = central_record(bytes, "layouts/data/3");
        QVERIFY(cd != SIZE_MAX);
        std::vector<uint8_t> b = bytes;
        put32(&b[cd + 42], uint32_t(bytes.size() + 100)); // local header offset
        expect_error([&] { PthFile f(b.data(), b.size(), "layouts.pth"); }, {"layouts.pth", "'layouts/data/3'", "no local header"});
        b = bytes;
        put32(&b[cd + 20], 0x7FFFFFF0); // compressed size
        put32(&b[cd + 24], 0x7FFFFFF0); // size
        expect_error([&] { PthFile f(b.data(), b.size(), "layouts.pth"); }, {"layouts.pth", "'layouts/data/3'", "run past"});
        b = bytes;
        b[cd + 10] = 8; // deflate
        expect_error([&] { PthFile f(b.data(), b.size(), "layouts.pth"); }, {"layouts.pth", "'layouts/data/3'", "compressed"});
        b = bytes;
        put32(&b[cd + 42], u32(&bytes[central_record(bytes, "layouts/data/2") + 42])); // two entries, one place
        expect_error([&] { PthFile f(b.data(), b.size(), "layouts.pth"); }, {"layouts.pth", "layouts/data/"});
    }

    // Views checked against their storage, in layouts.pth's pickle edited by hand (its CRC fixed,
    // so that the view checks themselves must act): offset_slice reaching past its storage
    // (offset 15 raised to 200); broadcast (stride 0) within and beyond its storage's size.
    void view_past_its_storage_is_refused() {
        std::vector<uint8_t> bytes = read_bytes(kPthDir + "/layouts.pth");
        const size_t cd = central_record(bytes, "layouts/data.pkl");
        const size_t local = u32(&bytes[cd + 42]);
        const size_t data = local + 30 + u16(&bytes[local + 26]) + u16(&bytes[local + 28]);
        const size_t size = u32(&bytes[cd + 24]);
        // pickletools: "521: K BININT1 15" is offset_slice's storage offset.
        QCOMPARE(int(bytes[data + 521]), int('K'));
        QCOMPARE(int(bytes[data + 522]), 15);
        std::vector<uint8_t> b = bytes;
        b[data + 522] = 200;
        put32(&b[cd + 16], crc32(&b[data], size));
        expect_error([&] { PthFile f(b.data(), b.size(), "layouts.pth"); },
                     {"layouts.pth", "tensor 'offset_slice'", "reaches past its storage"});
        // offset_slice's strides (7, 1) made (0, 0): a broadcast view of one element, 10 times.
        QCOMPARE(int(bytes[data + 530]), int('K'));
        QCOMPARE(int(bytes[data + 531]), 7);
        QCOMPARE(int(bytes[data + 533]), 1);
        b = bytes;
        b[data + 531] = 0;
        b[data + 533] = 0;
        put32(&b[cd + 16], crc32(&b[data], size));
        PthFile broadcast_within(b.data(), b.size(), "layouts.pth"); // 10 elements <= 35 in the storage: read
        const float first = SafetensorsFile::to_f32(*PthFile(kPthDir + "/layouts.pth").find("offset_slice"))[0];
        QCOMPARE(SafetensorsFile::to_f32(*broadcast_within.find("offset_slice")), std::vector<float>(10, first));
        // ... and sized (200, 200): 40000 copies of one element from a storage of 35, refused.
        QCOMPARE(int(bytes[data + 523]), int('K'));
        QCOMPARE(int(bytes[data + 525]), int('K'));
        b[data + 524] = 200;
        b[data + 526] = 200;
        put32(&b[cd + 16], crc32(&b[data], size));
        expect_error([&] { PthFile f(b.data(), b.size(), "layouts.pth"); }, {"layouts.pth", "tensor 'offset_slice'", "broadcast view"});
    }

    // The unpickler alone on every truncation and on single-byte mutations of a real data.pkl:
    // a value or an Error, never a crash or another exception.
    void mutated_pickles_never_crash() {
        const std::vector<uint8_t> zip_bytes = read_bytes(kPthDir + "/layouts.pth");
        const ZipArchive zip(zip_bytes.data(), zip_bytes.size(), "layouts.pth");
        const ZipEntry* pkl = zip.find("layouts/data.pkl");
        QVERIFY(pkl);
        const std::vector<uint8_t> pickle_bytes(pkl->data, pkl->data + pkl->size);
        auto attempt = [](const std::vector<uint8_t>& b) {
            try {
                pickle::unpickle(b.data(), b.size(), "data.pkl");
                return true;
            } catch (const Error&) {
                return false;
            }
        };
        QVERIFY(attempt(pickle_bytes));
        for (size_t cut = 0; cut < pickle_bytes.size(); ++cut)
            QVERIFY2(!attempt(std::vector<uint8_t>(pickle_bytes.begin(), pickle_bytes.begin() + std::ptrdiff_t(cut))),
                     qPrintable(QString("cut at %1 accepted").arg(cut)));
        size_t refused = 0;
        for (size_t at = 0; at < pickle_bytes.size(); ++at)
            for (uint8_t value : {uint8_t(0x00), uint8_t(0xFF), uint8_t('R'), uint8_t('c'), uint8_t('h'), uint8_t(0x93)}) {
                std::vector<uint8_t> b = pickle_bytes;
                b[at] = value;
                refused += !attempt(b);
            }
        QVERIFY(refused > pickle_bytes.size());
    }
};

QTEST_GUILESS_MAIN(TestPth)
#include "test_pth.moc"
