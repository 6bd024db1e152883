// The frame layer without any window: what the views will show, computed from a timeline of the
// bundled model, is the engine's own state, and the token input turns text and ids into the
// labels the strip shows.
#include "statescope/frames/frame_compute.h"
#include "statescope/frames/token_input.h"
#include "statescope/model.h"
#include "statescope/timeline.h"

#include <QtTest>

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

    void token_labels() {
        const frames::TokenInput t = frames::tokens_from_text("a b\n\xC3\xA9");
        QCOMPARE(t.ids, (std::vector<int32_t>{'a', ' ', 'b', '\n', 0xC3, 0xA9}));
        QCOMPARE(t.labels, (std::vector<std::string>{"a", "\u2423", "b", "\u23CE", "\\xc3", "\\xa9"}));
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
