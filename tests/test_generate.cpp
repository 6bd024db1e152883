// Sampling and generation: reproducible with a seed, greedy equals the argmax chain of the
// engine's own logits, and the sampling distribution is the tempered, truncated softmax.
#include "statescope/error.h"
#include "statescope/generate.h"
#include "statescope/model.h"
#include "statescope/sampling.h"
#include "core/checkpoint.h"
#include "statescope/tokenizer.h"
#include "test_support.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <cmath>
#include <map>

using namespace statescope;

namespace {
std::unique_ptr<Model> reference_model(const char* name) {
    return load_model(testsupport::reference_dir() + "/models/" + name);
}
} // namespace

class TestGenerate : public QObject {
    Q_OBJECT
private slots:
    void greedy_is_the_argmax_chain() {
        auto m = reference_model("gla");
        const std::vector<int32_t> prompt = {5, 77, 300, 12, 9};
        SequenceState st = m->initial_state();
        ForwardOptions last;
        last.all_logits = false;
        std::vector<float> logits = m->forward(prompt, st, last).logits.data;
        GenerateOptions g;
        g.max_tokens = 12;
        std::vector<int32_t> gen = generate(*m, st, logits, g);
        QCOMPARE(int(gen.size()), 12);
        // One full forward over prompt + continuation: each generated token is the argmax of the
        // logits one position earlier.
        std::vector<int32_t> all = prompt;
        all.insert(all.end(), gen.begin(), gen.end());
        SequenceState st2 = m->initial_state();
        Tensor full = m->forward(all, st2).logits;
        const int V = m->info().vocab_size;
        for (size_t i = 0; i < gen.size(); ++i) {
            const size_t pos = prompt.size() - 1 + i;
            QCOMPARE(gen[i], argmax(std::span<const float>(full.ptr() + pos * V, size_t(V))));
        }
    }

    void fixed_seed_is_reproducible() {
        auto m = reference_model("gla");
        const std::vector<int32_t> prompt = {1, 2, 3};
        auto run = [&](uint64_t seed) {
            SequenceState st = m->initial_state();
            std::vector<float> logits = m->forward(prompt, st).logits.data;
            logits.erase(logits.begin(), logits.end() - m->info().vocab_size);
            GenerateOptions g;
            g.max_tokens = 20;
            g.sampling = {1.0f, 50, 0.95f, seed};
            return generate(*m, st, logits, g);
        };
        QCOMPARE(run(42), run(42));
        QVERIFY(run(42) != run(43)); // 20 draws from a near-flat 50-way choice: equal by chance ~never
    }

    void stop_callback_and_stop_ids() {
        auto m = reference_model("gla");
        SequenceState st = m->initial_state();
        const std::vector<int32_t> prompt = {4};
        std::vector<float> logits = m->forward(prompt, st).logits.data;
        GenerateOptions g;
        g.max_tokens = 50;
        int seen = 0;
        auto gen = generate(*m, st, logits, g, [&](int32_t, const Tensor&) { return ++seen < 3; });
        QCOMPARE(int(gen.size()), 3);
        QCOMPARE(st.position, int64_t(1 + 3));
        SequenceState st2 = m->initial_state();
        logits = m->forward(prompt, st2).logits.data;
        g.stop_ids = {gen[0]};
        QCOMPARE(int(generate(*m, st2, logits, g).size()), 1);
    }

    void sampling_follows_the_tempered_softmax() {
        const std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f, 0.5f};
        const float temp = 0.7f;
        Sampler s({temp, 0, 1.0f, 7});
        std::map<int, int> count;
        const int N = 40000;
        for (int i = 0; i < N; ++i) count[s.next(logits)]++;
        double z = 0;
        for (float l : logits) z += std::exp(l / temp);
        for (int i = 0; i < 5; ++i) {
            const double p = std::exp(logits[size_t(i)] / temp) / z;
            const double sd = std::sqrt(p * (1 - p) / N);
            QVERIFY2(std::abs(count[i] / double(N) - p) < 5 * sd + 1e-9, qPrintable(QString::number(i)));
        }
    }

    void top_k_and_top_p_truncate() {
        const std::vector<float> logits = {0.0f, 3.0f, 2.9f, -5.0f, 2.8f};
        Sampler k1({1.0f, 1, 1.0f, 1});
        for (int i = 0; i < 100; ++i) QCOMPARE(k1.next(logits), 1);
        Sampler k2({5.0f, 2, 1.0f, 1});
        for (int i = 0; i < 200; ++i) {
            int id = k2.next(logits);
            QVERIFY(id == 1 || id == 2);
        }
        Sampler p_small({1.0f, 0, 0.01f, 1}); // the nucleus is the single most likely token
        for (int i = 0; i < 100; ++i) QCOMPARE(p_small.next(logits), 1);
    }

    void cli_generate_from_text() {
        // A GLA with the Mistral vocabulary and random weights, saved as a real folder with its
        // tokenizer: the CLI's text must be the prompt plus the decode of the engine's greedy ids.
        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString() + "/gla32k";
        std::ofstream(tmp.path().toStdString() + "/config.json")
            << R"({"model_type": "gla", "hidden_size": 64, "num_hidden_layers": 2, "num_heads": 4, "vocab_size": 32000})";
        auto made = load_model(Checkpoint::synthetic(tmp.path().toStdString() + "/config.json", 9));
        made->checkpoint()->save(dir, DType::BF16);
        std::filesystem::copy_file(testsupport::reference_dir() + "/tokenizers/mistral-7b.tokenizer.json", dir + "/tokenizer.json");

        const std::string prompt = "The state of a recurrent model";
        auto m = load_model(dir);
        auto tok = Tokenizer::load(dir);
        std::vector<int32_t> ids = tok->encode(prompt, true);
        SequenceState st = m->initial_state();
        ForwardOptions last;
        last.all_logits = false;
        GenerateOptions g;
        g.max_tokens = 6;
        if (auto eos = tok->eos_id()) g.stop_ids.push_back(*eos);
        std::vector<int32_t> gen = generate(*m, st, m->forward(ids, st, last).logits.data, g);
        const std::string want = prompt + tok->decode(gen, true) + "\n";

        QProcess p;
        p.start(STATESCOPE_CLI, {"generate", QString::fromStdString(dir), "--prompt", QString::fromStdString(prompt),
                                 "--max-tokens", "6"});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 0);
        QCOMPARE(p.readAllStandardOutput().toStdString(), want);
    }

    void bad_options_are_refused() {
        QVERIFY_THROWS_EXCEPTION(Error, Sampler({-1.0f, 0, 1.0f, 0}));
        QVERIFY_THROWS_EXCEPTION(Error, Sampler({1.0f, -2, 1.0f, 0}));
        QVERIFY_THROWS_EXCEPTION(Error, Sampler({1.0f, 0, 0.0f, 0}));
        QVERIFY_THROWS_EXCEPTION(Error, Sampler({1.0f, 0, 1.5f, 0}));
        QVERIFY_THROWS_EXCEPTION(Error, Sampler({NAN, 0, 1.0f, 0}));
    }
};

QTEST_GUILESS_MAIN(TestGenerate)
#include "test_generate.moc"
