// The timeline's recomputed states equal those of one straight run, whatever checkpoint and
// cursor they are recomputed from; its windows report the same scan inputs as a straight run;
// append / truncate / the memory budget behave as documented.
#include "statescope/error.h"
#include "statescope/model.h"
#include "test_support.h"
#include "statescope/timeline.h"

#include <QtTest>
#include <map>
#include <random>

using namespace statescope;

namespace {

std::vector<int32_t> random_tokens(int n, int vocab, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int32_t> d(0, vocab - 1);
    std::vector<int32_t> out(static_cast<size_t>(n));
    for (auto& t : out) t = d(rng);
    return out;
}

// Every layer's recurrent state after each token of a straight run, token by token in one call.
class Recorder : public ForwardObserver {
public:
    explicit Recorder(int layers) : layers_(layers) {}
    bool wants_layer(int) const override { return true; }
    bool wants_state(int, int64_t) const override { return true; }
    void on_state(int layer, int64_t index, const float* S) override {
        const size_t n = shape_.at(layer);
        states[{layer, index + 1}] = std::vector<float>(S, S + n);
    }
    std::map<int, size_t> shape_;
    std::map<std::pair<int, int64_t>, std::vector<float>> states;
    int layers_;
};

// Models of ../shared/reference that load (families land during development; the ones that
// still throw "not implemented" are skipped by name, everything else must load).
std::vector<std::string> loadable_reference_models() {
    std::vector<std::string> out;
    for (const QString& name : testsupport::reference_model_names()) {
        const std::string dir = testsupport::reference_dir() + "/models/" + name.toStdString();
        try {
            auto m = load_model(dir);
            out.push_back(name.toStdString());
        } catch (const Error& e) {
            if (!QString(e.what()).contains("not implemented")) throw;
        }
    }
    return out;
}

} // namespace

class TestTimeline : public QObject {
    Q_OBJECT
private slots:
    void states_equal_a_straight_run() {
        const auto names = loadable_reference_models();
        QVERIFY2(!names.empty(), "no reference model loads");
        for (const std::string& name : names) {
            auto model = load_model(testsupport::reference_dir() + "/models/" + name);
            const ModelInfo& info = model->info();
            const auto tokens = random_tokens(70, info.vocab_size, 7);
            // Straight run: one forward call over all tokens, recording every state.
            Recorder rec(info.num_layers);
            for (int l = 0; l < info.num_layers; ++l)
                rec.shape_[l] = size_t(info.layers[size_t(l)].heads) * info.layers[size_t(l)].key_dim * info.layers[size_t(l)].value_dim;
            SequenceState straight = model->initial_state();
            ForwardOptions opts;
            opts.observer = &rec;
            model->forward(tokens, straight, opts);

            TimelineOptions topt;
            topt.min_interval = 8;
            Timeline tl(*model, topt);
            // Appended in uneven pieces, so checkpoints fall inside pieces.
            tl.append(std::span(tokens).subspan(0, 5));
            tl.append(std::span(tokens).subspan(5, 30));
            tl.append(std::span(tokens).subspan(35));
            QCOMPARE(tl.length(), 70);
            // Out of order, so both checkpoints and the cursor serve as starting points.
            for (int64_t p : {70, 1, 33, 8, 9, 17, 16, 64, 65, 40, 41, 42}) {
                for (int l = 0; l < info.num_layers; ++l) {
                    if (info.layers[size_t(l)].mixer != MixerKind::Recurrent) continue;
                    Tensor S = tl.layer_state(l, p);
                    const auto& ref = rec.states.at({l, p});
                    QCOMPARE(S.data.size(), ref.size());
                    const double err = relative_l2(S.ptr(), ref.data(), ref.size());
                    QVERIFY2(err < 1e-5, qPrintable(QString("%1 layer %2 position %3: error %4")
                                                        .arg(name.c_str()).arg(l).arg(p).arg(err)));
                }
            }
            // The state at the end also equals the straight run's in every aux tensor.
            SequenceState end = tl.state_at(70);
            QCOMPARE(end.position, straight.position);
            for (size_t l = 0; l < end.layers.size(); ++l)
                for (size_t a = 0; a < end.layers[l].aux.size(); ++a) {
                    const Tensor& x = end.layers[l].aux[a].tensor;
                    const Tensor& y = straight.layers[l].aux[a].tensor;
                    QCOMPARE(x.data.size(), y.data.size());
                    QVERIFY(relative_l2(x.ptr(), y.ptr(), x.data.size()) < 1e-5);
                }
            qInfo("%s: %zu checkpoints, interval %lld", name.c_str(), tl.checkpoint_count(), (long long)tl.interval());
        }
    }

    void initial_state_is_position_zero() {
        auto model = load_model(testsupport::reference_dir() + "/models/gla");
        Timeline tl(*model);
        tl.append(random_tokens(10, model->info().vocab_size, 1));
        Tensor S = tl.layer_state(0, 0);
        QCOMPARE(frobenius(S), 0.0);
        QVERIFY(frobenius(tl.layer_state(0, 1)) > 0.0);
    }

    void scan_window_matches_the_straight_run() {
        auto model = load_model(testsupport::reference_dir() + "/models/gla");
        const auto tokens = random_tokens(40, model->info().vocab_size, 3);
        Timeline tl(*model, {size_t(1) << 30, 4});
        tl.append(tokens);
        SequenceState after;
        LayerWindow w = tl.scan_window(1, 13, 29, &after);
        QCOMPARE(w.first, 13);
        QCOMPARE(w.in.T, 17);
        QCOMPARE(after.position, 30);
        // Running the window's inputs from S0 reproduces the state at position 30.
        Tensor S = w.S0;
        std::vector<float> o(size_t(w.in.T) * w.in.H * w.in.V);
        scan_recurrent(w.in, S.ptr(), o.data());
        Tensor ref = tl.layer_state(1, 30);
        QVERIFY(relative_l2(S.ptr(), ref.ptr(), ref.data.size()) < 1e-6);
        QVERIFY(relative_l2(after.layers[1].recurrent.ptr(), ref.ptr(), ref.data.size()) < 1e-6);
        // And S0 is the state at position 13.
        Tensor s13 = tl.layer_state(1, 13);
        QVERIFY(relative_l2(w.S0.ptr(), s13.ptr(), s13.data.size()) < 1e-6);
    }

    void visit_states_sees_every_position() {
        auto model = load_model(testsupport::reference_dir() + "/models/gla");
        Timeline tl(*model, {size_t(1) << 30, 8});
        tl.append(random_tokens(30, model->info().vocab_size, 5));
        std::vector<int64_t> seen;
        std::vector<float> last;
        tl.visit_states(0, 11, 30, [&](int64_t p, const float* S) {
            seen.push_back(p);
            const auto& L = model->info().layers[0];
            last.assign(S, S + size_t(L.heads) * L.key_dim * L.value_dim);
        });
        QCOMPARE(int(seen.size()), 19);
        QCOMPARE(seen.front(), 12);
        QCOMPARE(seen.back(), 30);
        Tensor ref = tl.layer_state(0, 30);
        QVERIFY(relative_l2(last.data(), ref.ptr(), ref.data.size()) < 1e-6);
    }

    void truncate_then_append_equals_a_fresh_run() {
        auto model = load_model(testsupport::reference_dir() + "/models/gla");
        const int vocab = model->info().vocab_size;
        const auto a = random_tokens(50, vocab, 11), b = random_tokens(20, vocab, 12);
        Timeline tl(*model, {size_t(1) << 30, 8});
        tl.append(a);
        tl.state_at(45); // leaves a cursor beyond the cut
        tl.truncate(23);
        QCOMPARE(tl.length(), 23);
        tl.append(b);
        std::vector<int32_t> joined(a.begin(), a.begin() + 23);
        joined.insert(joined.end(), b.begin(), b.end());
        QCOMPARE(tl.tokens(), joined);
        Timeline fresh(*model, {size_t(1) << 30, 8});
        fresh.append(joined);
        for (int64_t p : {23, 24, 40, 43}) {
            Tensor x = tl.layer_state(1, p), y = fresh.layer_state(1, p);
            QVERIFY(relative_l2(x.ptr(), y.ptr(), y.data.size()) < 1e-6);
        }
    }

    void editing_the_prompt_reuses_the_prefix() {
        // An edit at position 150 of 200 tokens recomputes only from the checkpoint before it
        // (interval 16: from 144), not the whole prompt, and ends in the same states as a fresh run.
        auto model = load_model(testsupport::reference_dir() + "/models/delta_net");
        const int vocab = model->info().vocab_size;
        std::vector<int32_t> prompt = random_tokens(200, vocab, 21);
        Timeline tl(*model, {size_t(1) << 30, 16});
        QCOMPARE(tl.set_tokens(prompt), int64_t(200));
        QCOMPARE(tl.tokens_computed(), int64_t(200));

        std::vector<int32_t> edited = prompt;
        edited[150] = (edited[150] + 1) % vocab;
        const int64_t ran = tl.set_tokens(edited);
        QCOMPARE(ran, int64_t((150 - 144) + (200 - 150)));
        QCOMPARE(tl.tokens(), edited);

        // Appending text at the end costs only the new tokens; an identical prompt costs nothing.
        std::vector<int32_t> longer = edited;
        longer.insert(longer.end(), {1, 2, 3});
        QCOMPARE(tl.set_tokens(longer), int64_t(3));
        QCOMPARE(tl.set_tokens(longer), int64_t(0));

        Timeline fresh(*model, {size_t(1) << 30, 16});
        fresh.append(longer);
        for (int64_t p : {100, 150, 151, 203}) {
            Tensor x = tl.layer_state(1, p), y = fresh.layer_state(1, p);
            QVERIFY(relative_l2(x.ptr(), y.ptr(), y.data.size()) < 1e-6);
        }
        // A bad id is refused before anything changes.
        std::vector<int32_t> bad = longer;
        bad[5] = vocab + 7;
        QVERIFY_THROWS_EXCEPTION(Error, tl.set_tokens(bad));
        QCOMPARE(tl.tokens(), longer);
    }

    void budget_bounds_checkpoint_memory() {
        auto model = load_model(testsupport::reference_dir() + "/models/gla");
        const size_t state_bytes = model->initial_state().bytes();
        TimelineOptions opt;
        opt.min_interval = 2;
        opt.checkpoint_budget_bytes = state_bytes * 6; // room for six states
        Timeline tl(*model, opt);
        tl.append(random_tokens(100, model->info().vocab_size, 9));
        QVERIFY(tl.checkpoint_bytes() <= opt.checkpoint_budget_bytes);
        QVERIFY(tl.interval() >= 100 / 6);
        QVERIFY(tl.checkpoint_count() >= 2);
        // Still exact after the interval grew.
        Timeline dense(*model, {size_t(1) << 30, 1});
        dense.append(tl.tokens());
        Tensor x = tl.layer_state(0, 77), y = dense.layer_state(0, 77);
        QVERIFY(relative_l2(x.ptr(), y.ptr(), y.data.size()) < 1e-5);
    }

    void bad_input_is_refused_and_leaves_the_timeline_unchanged() {
        auto model = load_model(testsupport::reference_dir() + "/models/gla");
        Timeline tl(*model);
        tl.append(random_tokens(10, model->info().vocab_size, 2));
        const std::vector<int32_t> bad = {1, 2, model->info().vocab_size};
        QVERIFY_THROWS_EXCEPTION(Error, tl.append(bad));
        QCOMPARE(tl.length(), 10);
        QVERIFY_THROWS_EXCEPTION(Error, tl.state_at(11));
        QVERIFY_THROWS_EXCEPTION(Error, tl.scan_window(0, 5, 10));
        QVERIFY_THROWS_EXCEPTION(Error, tl.scan_window(7, 0, 1));
    }

    void progress_is_reported_and_an_abandoned_run_changes_nothing() {
        auto model = load_model(testsupport::reference_dir() + "/models/delta_net");
        const int vocab = model->info().vocab_size;
        const auto prompt = random_tokens(300, vocab, 31);
        Timeline tl(*model, {size_t(1) << 30, 16});
        // Progress: after every piece, increasing, ending exactly at the total.
        std::vector<std::pair<int64_t, int64_t>> seen;
        tl.append(prompt, [&](int64_t done, int64_t total) { seen.emplace_back(done, total); });
        QVERIFY(seen.size() >= 300 / 16);
        for (size_t i = 0; i < seen.size(); ++i) {
            QCOMPARE(seen[i].second, int64_t(300));
            QVERIFY(seen[i].first > (i ? seen[i - 1].first : 0));
        }
        QCOMPARE(seen.back().first, int64_t(300));
        const Tensor end_before = tl.layer_state(1, 300), mid_before = tl.layer_state(1, 170);

        // A progress callback that throws abandons an append: nothing of it stays.
        struct Cancelled {};
        const auto more = random_tokens(200, vocab, 32);
        auto cancel_after = [](int64_t tokens) {
            return [tokens](int64_t done, int64_t) {
                if (done >= tokens) throw Cancelled{};
            };
        };
        QVERIFY_THROWS_EXCEPTION(Cancelled, tl.append(more, cancel_after(100)));
        QCOMPARE(tl.tokens(), prompt);

        // An edit abandoned half-way leaves the old sequence, states included, without rerunning it.
        std::vector<int32_t> edited = prompt;
        edited[120] = (edited[120] + 1) % vocab;
        edited.insert(edited.end(), more.begin(), more.end());
        const int64_t computed = tl.tokens_computed();
        QVERIFY_THROWS_EXCEPTION(Cancelled, tl.set_tokens(edited, cancel_after(150)));
        QCOMPARE(tl.tokens(), prompt);
        const int64_t spent = tl.tokens_computed() - computed;
        for (int64_t p : {300, 170}) {
            const Tensor x = tl.layer_state(1, p), &y = p == 300 ? end_before : mid_before;
            QVERIFY(relative_l2(x.ptr(), y.ptr(), y.data.size()) < 1e-6);
        }
        // Restoring cost nothing: reading those two states ran at most two intervals.
        QVERIFY(tl.tokens_computed() - computed - spent <= 2 * 16);
        // The edit then runs whole, reusing the prefix, and reports its own tokens.
        seen.clear();
        tl.set_tokens(edited, [&](int64_t done, int64_t total) { seen.emplace_back(done, total); });
        QCOMPARE(tl.tokens(), edited);
        QCOMPARE(seen.back().first, seen.back().second);
        QCOMPARE(seen.back().second, int64_t(edited.size() - 120));
        Timeline fresh(*model, {size_t(1) << 30, 16});
        fresh.append(edited);
        const Tensor x = tl.layer_state(1, 450), y = fresh.layer_state(1, 450);
        QVERIFY(relative_l2(x.ptr(), y.ptr(), y.data.size()) < 1e-6);
    }

private:
    static double frobenius(const Tensor& t) {
        double s = 0;
        for (float x : t.data) s += double(x) * x;
        return std::sqrt(s);
    }
};

QTEST_GUILESS_MAIN(TestTimeline)
#include "test_timeline.moc"
