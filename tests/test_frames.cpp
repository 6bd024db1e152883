// The frame layer without any window: what the views will show, computed from a timeline of the
// bundled model, is the engine's own state, and the token input turns text and ids into the
// labels the strip shows.
#include "statescope/frames/frame_compute.h"
#include "statescope/frames/token_input.h"
#include "statescope/model.h"
#include "statescope/timeline.h"

#include <QtTest>
#include <cmath>

using namespace statescope;

namespace {
const std::string kBundled = std::string(STATESCOPE_SOURCE_DIR) + "/assets/models/deltanet-negeig-tiny";
}

class TestFrames : public QObject {
    Q_OBJECT
private slots:
    void a_frame_shows_the_timelines_state() {
        auto model = load_model(kBundled);
        Timeline timeline(*model);
        const frames::TokenInput input = frames::tokens_from_text("The frame layer has no window.");
        timeline.append(input.ids);
        frames::FrameComputer computer;
        frames::FrameRequest r;
        r.layer = 1;
        r.head = 99; // clamped to the last head
        r.window = 8;
        for (int64_t token : {int64_t(20), int64_t(21), int64_t(5)}) { // forward one, then back
            r.token = token;
            const frames::FrameResult f = computer.compute(timeline, r);
            const LayerInfo& L = model->info().layers[1];
            QCOMPARE(f.head, L.heads - 1);
            QCOMPARE(f.window_first, std::max<int64_t>(0, token - 7));
            QCOMPARE(f.state.rows, L.key_dim);
            QCOMPARE(f.state.cols, L.value_dim);
            const SequenceState after = timeline.state_at(token + 1); // a value: keep it while S is read
            const Tensor& S = after.layers[1].recurrent;
            const float* head = S.ptr() + size_t(f.head) * L.key_dim * L.value_dim;
            QVERIFY(std::equal(f.state.values.begin(), f.state.values.end(), head));
            QCOMPARE(f.overview.cells.size(), model->info().layers.size());
            QCOMPARE(f.eigen.token_index, token);
        }
        frames::SequenceRequest s;
        s.layer = 0;
        const frames::SequenceResult seq = frames::compute_sequence(timeline, s);
        QCOMPARE(seq.curves.effective_rank.size(), input.ids.size());
        QCOMPARE(seq.trajectory.tokens.size(), input.ids.size());
    }

    // The prediction is the softmax of the logits, written out here directly: top-k in order of
    // probability, the target's logit, probability and rank, ties and the entropy.
    void prediction_is_the_softmax_of_the_logits() {
        const std::vector<float> logits{0.5f, 3.0f, -1.0f, 3.0f, 2.0f, -INFINITY};
        std::vector<double> direct(logits.size());
        double z = 0;
        for (size_t i = 0; i < logits.size(); ++i) z += direct[i] = std::exp(double(logits[i]));
        for (double& d : direct) d /= z;
        const frames::Prediction p = frames::predict(logits, 4, 3);
        QCOMPARE(p.vocab, int64_t(6));
        QCOMPARE(p.top_ids, (std::vector<int32_t>{1, 3, 4})); // equal logits: lower id first
        for (size_t i = 0; i < p.top_ids.size(); ++i) {
            QVERIFY(std::abs(p.top_probs[i] - direct[size_t(p.top_ids[i])]) < 1e-6);
            QCOMPARE(p.top_logits[i], logits[size_t(p.top_ids[i])]);
        }
        QCOMPARE(p.target, 4);
        QCOMPARE(p.target_rank, int64_t(3));
        QCOMPARE(p.target_logit, 2.0f);
        QVERIFY(std::abs(p.target_prob - direct[4]) < 1e-6);
        double h = 0;
        for (double d : direct)
            if (d > 0) h -= d * std::log(d);
        QVERIFY(std::abs(p.entropy - h) < 1e-9);
        QCOMPARE(frames::predict(logits, 3, 2).target_rank, int64_t(1)); // tied with the argmax
        QCOMPARE(frames::predict(logits, 5, 2).target_rank, int64_t(6));
        QCOMPARE(frames::predict(logits, -1, 10).top_ids.size(), size_t(6)); // k past the vocabulary
        QCOMPARE(frames::predict(logits, -1, 1).target_rank, int64_t(0));
        // Large logits do not overflow.
        const frames::Prediction big = frames::predict(std::vector<float>{1000.0f, 999.0f}, 1, 2);
        QVERIFY(std::abs(big.top_probs[0] - 1.0 / (1.0 + std::exp(-1.0))) < 1e-6);
    }

    // On the trained MQAR model's task sample, the frame's prediction is the softmax of the
    // engine's own logits, and the curve over the sequence agrees with it at every position.
    void prediction_of_the_demonstration_model() {
        const std::string mqar = std::string(STATESCOPE_SOURCE_DIR) + "/assets/models/mqar-deltanet";
        auto model = load_model(mqar);
        const frames::TokenInput input = frames::tokens_from_task(mqar, 1);
        Timeline timeline(*model);
        timeline.append(input.ids);
        SequenceState st = model->initial_state();
        const Tensor logits = model->forward(input.ids, st).logits;
        const int64_t vocab = logits.shape[1];
        const std::vector<int32_t> targets = frames::prediction_targets(input.ids, input.targets);
        QCOMPARE(targets, input.targets);
        frames::FrameComputer computer;
        computer.set_labeler([](int32_t id) { return "#" + std::to_string(id); });
        frames::SequenceRequest sr;
        sr.targets = targets;
        sr.task_targets = true;
        const frames::SequenceResult seq = frames::compute_sequence(timeline, sr);
        QCOMPARE(seq.prediction.predicted.size(), input.ids.size());
        int scored = 0, correct = 0;
        for (int64_t t = 0; t < int64_t(input.ids.size()); ++t) {
            frames::FrameRequest r;
            r.token = t;
            r.target = targets[size_t(t)];
            r.task_target = true;
            r.top_k = 5;
            const frames::Prediction p = computer.compute(timeline, r).prediction;
            const std::span<const float> row(logits.data.data() + size_t(t) * vocab, size_t(vocab));
            const frames::Prediction direct = frames::predict(row, r.target, 5);
            QCOMPARE(p.top_ids, direct.top_ids);
            for (size_t i = 0; i < p.top_probs.size(); ++i) QVERIFY(std::abs(p.top_probs[i] - direct.top_probs[i]) < 1e-5);
            QCOMPARE(p.top_labels.front(), "#" + std::to_string(p.top_ids.front()));
            QCOMPARE(seq.prediction.predicted[size_t(t)], p.top_ids.front());
            if (r.target < 0) {
                QVERIFY(std::isnan(seq.prediction.target_prob[size_t(t)]));
                continue;
            }
            QVERIFY(std::abs(seq.prediction.target_prob[size_t(t)] - p.target_prob) < 1e-5);
            ++scored;
            correct += p.target_rank == 1;
        }
        QCOMPARE(scored, 8); // the 8 query keys
        QVERIFY2(correct >= 7, qPrintable(QString("%1 of 8 queries recalled").arg(correct)));
        // The plots say what layer 0 does before the recurrence: why its peaks sit after the key.
        QCOMPARE(frames::describe_inputs(model->info().layers[0]),
                 std::string("before the recurrence: q, k, v through a short convolution of width 4 (a key at token t mixes "
                             "tokens t-3..t, so a peak can sit up to 3 tokens after the token it stands for); q, k: silu, L2-normalised"));
        // Without a task the target is the token that follows.
        QCOMPARE(frames::prediction_targets({5, 6, 7}, {}), (std::vector<int32_t>{6, 7, -1}));
    }

    void token_labels() {
        const frames::TokenInput t = frames::tokens_from_text("a b\n\xC3\xA9");
        QCOMPARE(t.ids, (std::vector<int32_t>{'a', ' ', 'b', '\n', 0xC3, 0xA9}));
        QCOMPARE(t.labels, (std::vector<std::string>{"a", "\u2423", "b", "\u23CE", "\u00e9 1/2", "\u00e9 2/2"}));
        const frames::TokenInput ids = frames::tokens_from_ids("5 007");
        QCOMPARE(ids.labels, (std::vector<std::string>{"5", "007"}));
        frames::TokenCodec codec(kBundled); // no tokenizer: bytes for text, ids stay ids
        QVERIFY(!codec.has_tokenizer());
        QCOMPARE(codec.encode(t).labels, t.labels);
        QCOMPARE(codec.label('A'), std::string("A")); // the last input was text: labels are bytes
        QCOMPARE(codec.label(300), std::string("300"));
    }
};

QTEST_GUILESS_MAIN(TestFrames)
#include "test_frames.moc"
