#include "engine_worker.h"

#include "statescope/error.h"
#include "statescope/generate.h"

#include <QElapsedTimer>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>

namespace statescope::app {

namespace {

// Thrown inside long computations when a newer request has arrived; never reaches the UI.
struct Superseded {};
// Thrown inside the sequence pass when a frame is waiting: the pass is posted again behind it.
struct YieldToFrame {};
// Thrown inside a load once it is no longer wanted (cancelled or superseded).
struct LoadCancelled {};

// Where the generated tokens of an encoded input begin (a reopened session's continuation is
// appended after the input's own tokens), -1 when it has none: they are drawn as generated.
int64_t generated_start(const frames::TokenInput& given, const frames::TokenInput& encoded) {
    if (given.generated.empty() || given.generated.size() > encoded.ids.size()) return -1;
    return int64_t(encoded.ids.size() - given.generated.size());
}

} // namespace

EngineWorker::~EngineWorker() = default;

std::shared_ptr<ModelSummary> EngineWorker::summary(uint64_t session, const std::string& tokens_from) const {
    auto s = std::make_shared<ModelSummary>();
    s->session = session;
    s->path = path_;
    s->info = model_.model()->info();
    // A GPU that ran out of memory or was lost hands the model to the CPU reference; the status
    // bar shows where it runs now and its tooltip why.
    const std::string fell_back = model_.fallback_reason();
    s->backend = fell_back.empty() ? model_.description() : "CPU (the GPU failed and the CPU took over: " + fell_back + ")";
    s->tokens = timeline_->tokens();
    s->labels = codec_->labels(s->tokens);
    s->tokens_from = tokens_from;
    // A task sample's targets cover its own tokens; tokens generated after them have none.
    s->targets = targets_;
    s->targets.resize(s->tokens.size(), -1);
    s->generated_from = generated_from_ < int64_t(s->tokens.size()) ? generated_from_ : -1;
    s->checkpoint_interval = timeline_->interval();
    s->checkpoint_bytes = timeline_->checkpoint_bytes();
    s->end_state_bytes = timeline_->state_at(timeline_->length()).bytes();
    return s;
}

std::vector<int32_t> EngineWorker::prediction_targets() const {
    std::vector<int32_t> task = targets_;
    if (!task.empty()) task.resize(size_t(timeline_->length()), -1); // generated tokens have no target
    return frames::prediction_targets(timeline_->tokens(), task);
}

void EngineWorker::abandon(uint64_t session, const std::string& message) {
    const uint64_t latest = latest_session.load();
    if (latest == kShuttingDown || (message.empty() && latest != kCancelled)) return;
    callbacks_.not_loaded(session, QString::fromStdString(message), model_.model() ? summary(session_, tokens_from_) : nullptr);
}

void EngineWorker::report(uint64_t session, const std::string& phase, int64_t done, int64_t total) {
    if (stale(session)) throw LoadCancelled{};
    // Often enough for a smooth bar, rarely enough not to flood the UI thread's queue.
    constexpr int64_t kReportEveryMs = 40;
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
    const bool phase_edge = done == 0 || done == total;
    if (!phase_edge && now - last_report_ms_ < kReportEveryMs) return;
    last_report_ms_ = now;
    if (callbacks_.progress) callbacks_.progress(LoadProgress{session, phase, done, total});
}

void EngineWorker::load(const LoadRequest& r) {
    // The prediction's top tokens read as the open model's tokenizer spells them.
    frames_.set_labeler([this](int32_t id) { return codec_ ? codec_->label(id) : std::to_string(id); });
    // Every stage checks whether the load is still wanted (report() throws LoadCancelled when it
    // is not), and the timeline's run checks after every piece: Cancel takes effect within one
    // checkpoint interval of tokens. Nothing of an abandoned load replaces what is open.
    const auto progress = [this, &r](int64_t done, int64_t total) { report(r.session, "running", done, total); };
    try {
        if (stale(r.session)) throw LoadCancelled{};
        QElapsedTimer clock;
        clock.start();
        if (r.keep_model && model_.model() && timeline_ && r.path == path_) {
            report(r.session, "tokenizing");
            const TokenInput input = codec_->encode(r.input);
            report(r.session, "running", 0, int64_t(input.ids.size()));
            const int64_t ran = timeline_->set_tokens(input.ids, progress); // unchanged if it throws
            tokens_from_ = input.description;
            targets_ = input.targets;
            generated_from_ = generated_start(r.input, input);
            session_ = r.session;
            frames_.reset();
        curve_.reset();
            auto s = summary(r.session, tokens_from_);
            s->run_ms = double(clock.nsecsElapsed()) / 1e6;
            s->tokens_run = ran;
            callbacks_.loaded(s);
            return;
        }
        report(r.session, "opening");
        OpenedModel model = backends_.open(load_model(r.path));
        auto codec = std::make_unique<TokenCodec>(r.path);
        const double load_ms = double(clock.nsecsElapsed()) / 1e6;
        clock.restart();
        report(r.session, "tokenizing");
        const TokenInput input = codec->encode(r.input);
        report(r.session, "running", 0, int64_t(input.ids.size()));
        auto timeline = std::make_unique<Timeline>(*model.model());
        timeline->append(input.ids, progress);
        const double run_ms = double(clock.nsecsElapsed()) / 1e6;
        if (stale(r.session)) throw LoadCancelled{};
        // Only a model that loaded and ran replaces the current one.
        timeline_ = std::move(timeline);
        model_ = std::move(model);
        codec_ = std::move(codec);
        path_ = r.path;
        tokens_from_ = input.description;
        targets_ = input.targets;
        generated_from_ = generated_start(r.input, input);
        session_ = r.session;
        frames_.reset();
        curve_.reset();
        auto s = summary(r.session, tokens_from_);
        s->load_ms = load_ms;
        s->run_ms = run_ms;
        s->tokens_run = int64_t(input.ids.size());
        callbacks_.loaded(s);
    } catch (const LoadCancelled&) {
        abandon(r.session, {});
    } catch (const std::exception& e) {
        abandon(r.session, e.what());
    }
}

void EngineWorker::continue_sequence(const ContinueRequest& r) {
    if (stale(r.session)) {
        abandon(r.session, {});
        return;
    }
    try {
        require(model_.model() && timeline_ && timeline_->length() > 0, "there is no sequence to continue");
        const int64_t keep = std::clamp<int64_t>(r.keep, 1, timeline_->length());
        Generation g;
        g.session = r.session;
        g.remaining = std::max(1, r.count);
        g.sampler = std::make_unique<Sampler>(r.sampling); // throws for options out of range
        // The state before the kept sequence's last token, and that token's logits.
        g.state = timeline_->state_at(keep - 1);
        ForwardOptions last_only;
        last_only.all_logits = false;
        const int32_t last = timeline_->tokens()[size_t(keep - 1)];
        g.logits = model_.model()->forward(std::span<const int32_t>(&last, 1), g.state, last_only).logits.data;
        if (codec_) g.stop_ids = codec_->stop_ids();
        g.base_description = tokens_from_;
        timeline_->truncate(keep);
        // Tokens generated before and kept stay marked as generated.
        generated_from_ = generated_from_ >= 0 && generated_from_ < keep ? generated_from_ : keep;
        frames_.reset();
        curve_.reset();
        session_ = r.session;
        stop_generation = false;
        generation_ = std::move(g);
        generate_step(r.session);
    } catch (const std::exception& e) {
        abandon(r.session, e.what());
    }
}

void EngineWorker::generate_step(uint64_t session) {
    Generation& g = generation_;
    if (g.session != session || g.remaining <= 0) return;
    if (stale(session)) {
        // Cancelled before the first token reached the window: it keeps what was generated.
        g.remaining = 0;
        abandon(session, {});
        return;
    }
    try {
        QElapsedTimer clock;
        clock.start();
        const int32_t id = g.sampler->next(g.logits);
        ForwardOptions last_only;
        last_only.all_logits = false;
        g.logits = model_.model()->forward(std::span<const int32_t>(&id, 1), g.state, last_only).logits.data;
        timeline_->append(std::span<const int32_t>(&id, 1));
        curve_.reset(); // one token more: the curve is computed again
        --g.remaining;
        ++g.done;
        const bool stop = stop_generation.exchange(false) ||
                          std::find(g.stop_ids.begin(), g.stop_ids.end(), id) != g.stop_ids.end();
        if (stop) g.remaining = 0;
        auto s = summary(session, g.base_description + " + " + std::to_string(g.done) + " generated");
        s->run_ms = double(clock.nsecsElapsed()) / 1e6;
        s->tokens_run = 2; // the sampled token's forward, and the timeline's
        s->generating = g.remaining > 0;
        callbacks_.loaded(s);
        if (g.remaining > 0)
            QMetaObject::invokeMethod(this, [this, session] { generate_step(session); }, Qt::QueuedConnection);
    } catch (const std::exception& e) {
        g.remaining = 0;
        abandon(session, e.what());
    }
}

void EngineWorker::frame(const FrameRequest& r) {
    frame_seen_ = std::max(frame_seen_, r.generation);
    if (stale(r.session) || r.session != session_ || r.generation < latest_frame.load()) return;
    try {
        if (r.from_checkpoint) {
            timeline_->forget_cursor();
            frames_.reset();
        }
        FrameRequest with_target = r;
        const std::vector<int32_t> targets = prediction_targets();
        if (r.token >= 0 && r.token < int64_t(targets.size())) with_target.target = targets[size_t(r.token)];
        with_target.task_target = !targets_.empty();
        callbacks_.frame(std::make_shared<FrameResult>(frames_.compute(*timeline_, with_target)));
    } catch (const std::exception& e) {
        callbacks_.failed(r.session, r.generation, "frame", QString::fromStdString(e.what()));
    }
}

void EngineWorker::sequence(const SequenceRequest& r) {
    if (stale(r.session) || r.session != session_ || r.generation < latest_sequence.load()) return;
    try {
        SequenceRequest with_targets = r;
        with_targets.targets = prediction_targets();
        with_targets.task_targets = !targets_.empty();
        with_targets.predictions = !curve_;
        auto s = std::make_shared<SequenceResult>(compute_sequence(*timeline_, with_targets, [&] {
            if (r.generation < latest_sequence.load() || stale(r.session)) throw Superseded{};
            if (latest_frame.load() > frame_seen_) throw YieldToFrame{};
        }));
        if (curve_) s->prediction = *curve_;
        else curve_ = std::make_shared<const frames::PredictionCurve>(s->prediction);
        callbacks_.sequence(s);
    } catch (const YieldToFrame&) {
        // The position moved while the curves were computing: show the frame first (the user is
        // looking at it), then start the curves again from the queue's end.
        QMetaObject::invokeMethod(this, [this, r] { sequence(r); }, Qt::QueuedConnection);
    } catch (const Superseded&) {
        // A newer request is queued behind this one.
    } catch (const std::exception& e) {
        callbacks_.failed(r.session, r.generation, "sequence", QString::fromStdString(e.what()));
    }
}

} // namespace statescope::app
