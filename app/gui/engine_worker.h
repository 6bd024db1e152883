// The one thread that owns the engine: the model, its timeline and every computation on them.
// The UI thread posts requests (queued calls); results go back as immutable values through
// callbacks the controller queues onto its own thread. Requests already superseded when the
// worker gets to them are skipped, so a fast scrub costs only the frames that are still wanted.
#pragma once
#include "statescope/backend.h"
#include "statescope/frames/frame.h"
#include "statescope/frames/frame_compute.h"
#include "statescope/frames/token_input.h"
#include "statescope/sampling.h"
#include "statescope/timeline.h"

#include <QObject>
#include <atomic>
#include <functional>
#include <memory>

namespace statescope::app {

// The frame layer's requests and results are the worker's messages (engine/frames).
using frames::ContinueRequest;
using frames::FrameRequest;
using frames::FrameResult;
using frames::LoadProgress;
using frames::LoadRequest;
using frames::ModelSummary;
using frames::SequenceRequest;
using frames::SequenceResult;
using frames::TokenCodec;
using frames::TokenInput;

class EngineWorker : public QObject {
    Q_OBJECT
public:
    struct Callbacks {
        std::function<void(std::shared_ptr<const ModelSummary>)> loaded;
        std::function<void(std::shared_ptr<const FrameResult>)> frame;
        std::function<void(std::shared_ptr<const SequenceResult>)> sequence;
        // session, generation, what failed ("frame", "sequence"), the message
        std::function<void(uint64_t, uint64_t, QString, QString)> failed;
        // A load or continuation that ended without a new result: failed (the message) or
        // cancelled (no message), with the model the worker kept (null when it has none), whose
        // session may differ from what the controller shows (a load that finished just before it
        // was superseded).
        std::function<void(uint64_t session, QString message, std::shared_ptr<const ModelSummary> kept)> not_loaded;
        std::function<void(const LoadProgress&)> progress;
    };
    // Values of latest_session that are no session: every request is stale. kCancelled means
    // the load in flight is abandoned at its next check and reported; kShuttingDown that nothing
    // is reported any more.
    static constexpr uint64_t kCancelled = ~uint64_t(0) - 1;
    static constexpr uint64_t kShuttingDown = ~uint64_t(0);
    explicit EngineWorker(Callbacks callbacks) : callbacks_(std::move(callbacks)) {}
    ~EngineWorker() override;

    // Set by the UI thread when it posts a request, read by the worker to skip stale ones.
    std::atomic<uint64_t> latest_session{0}, latest_frame{0}, latest_sequence{0};
    // Set by the UI thread to end a running generation after the current token.
    std::atomic<bool> stop_generation{false};

    // Run on the worker thread (post them with QMetaObject::invokeMethod).
    void load(const LoadRequest& r);
    void continue_sequence(const ContinueRequest& r);
    void frame(const FrameRequest& r);
    void sequence(const SequenceRequest& r);

private:
    // One generated token: sample, append to the timeline, report; then post itself again so
    // that frames asked for in between are computed and every view follows the generation.
    void generate_step(uint64_t session);
    struct Generation {
        uint64_t session = 0;
        int remaining = 0;
        int done = 0;
        std::unique_ptr<Sampler> sampler;
        SequenceState state;          // after the last token of the sequence
        std::vector<float> logits;    // logits after that token
        std::vector<int32_t> stop_ids;
        std::string base_description;
    };
    Generation generation_;
    bool stale(uint64_t session) const { return session != latest_session.load(); }
    // Tells the controller that the load `session` ended without a result (message empty:
    // cancelled), unless a newer request superseded it: that one will answer.
    void abandon(uint64_t session, const std::string& message);
    // Reports a load's phase and progress, at most every few tens of milliseconds (and always the
    // end of a phase); throws LoadCancelled once the load is stale.
    void report(uint64_t session, const std::string& phase, int64_t done = 0, int64_t total = 0);
    int64_t last_report_ms_ = -1000;
    // The summary of the open model and its sequence, stamped with `session`.
    std::shared_ptr<ModelSummary> summary(uint64_t session, const std::string& tokens_from) const;

    // Per token the next token its prediction is judged against (frames::prediction_targets).
    std::vector<int32_t> prediction_targets() const;
    // The prediction curve of the current sequence, kept across layer and head changes (it costs a
    // forward pass over the whole sequence); reset whenever the tokens change.
    std::shared_ptr<const frames::PredictionCurve> curve_;
    frames::FrameComputer frames_;
    uint64_t frame_seen_ = 0; // the newest frame request this thread has taken up

    Callbacks callbacks_;
    uint64_t session_ = 0;
    // Where models run (STATESCOPE_BACKEND, engine/backend.h). This thread owns the Vulkan device
    // it opens on first use; every GPU model keeps it alive.
    Backends backends_{backend_request_from_environment()};
    OpenedModel model_;        // no model until the first load
    std::unique_ptr<Timeline> timeline_;
    std::unique_ptr<TokenCodec> codec_;
    std::string path_, tokens_from_;
    std::vector<int32_t> targets_; // the task sample's targets (TokenInput::targets), else empty
    int64_t generated_from_ = -1;  // the first generated token of the sequence, -1: none
};

} // namespace statescope::app
