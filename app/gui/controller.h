// The shared context of the window: which model is open, which token, layer and head are in
// focus. Views never talk to each other; they react to the controller's signals and read its
// latest results. The controller owns the engine thread (EngineWorker) and is the only one that
// posts work to it; every request carries the session (model) and a generation number, and
// results that are no longer the latest are dropped here.
#pragma once
#include "engine_worker.h"

#include <QObject>
#include <QThread>
#include <functional>
#include <memory>

namespace statescope::app {

class Controller : public QObject {
    Q_OBJECT
public:
    explicit Controller(QObject* parent = nullptr);
    ~Controller() override;

    // Opens a model folder (or config.json) and runs the input through it (text is tokenized
    // with the model's tokenizer on the engine thread).
    // keep_model: the same model with an edited sequence (reruns only what follows the unchanged prefix).
    void open_model(const QString& path, const TokenInput& input, bool keep_model = false);
    // Runs the open model on another input.
    void set_tokens(const TokenInput& input);
    // Keeps the tokens up to and including `token` and lets the model continue with `count`
    // tokens of its own (greedy unless sampling says otherwise).
    void continue_from(int64_t token, int count, const SamplingOptions& sampling = {});
    // Ends a running generation after the token being computed.
    void stop_generation();
    bool generating() const { return generating_; }
    // Abandons the load (or edit, or continuation) in flight: the engine drops its work at the
    // next check (within one checkpoint interval of tokens), the model shown before stays, or the
    // window stays empty when there was none. load_cancelled() follows, unless the load had
    // already finished (then model_loaded() comes as usual).
    void cancel_load();
    // What Esc and the Cancel button do: stop a generation, else cancel a load.
    void cancel();

    bool has_model() const { return model_ != nullptr; }
    const ModelSummary* model() const { return model_.get(); }
    bool loading() const { return loading_; }

    int64_t token() const { return token_; }
    int64_t length() const { return model_ ? int64_t(model_->tokens.size()) : 0; }
    int layer() const { return layer_; }
    int head() const { return head_; }
    int window() const { return window_; }
    int heads_of(int layer) const;

    void set_token(int64_t token);
    void step(int64_t delta) { set_token(token_ + delta); }
    void set_focus(int layer, int head);
    void set_window(int tokens);
    // Token, layer and head at once, computed from the nearest checkpoint (FrameRequest::
    // from_checkpoint): a bookmark's jump and a reopened session show the same pixels whatever
    // was shown before.
    void jump(int64_t token, int layer, int head);

    // The latest results for the current session and focus (null until they arrive).
    std::shared_ptr<const FrameResult> frame() const { return frame_; }
    std::shared_ptr<const SequenceResult> sequence() const { return sequence_; }
    // True while a load, or the latest frame or sequence request, has not answered.
    bool busy() const { return loading_ || generating_ || frame_pending_ || sequence_pending_; }

signals:
    void load_started(const QString& path);
    void model_loaded();
    void load_failed(const QString& path, const QString& message);
    void load_cancelled(const QString& path);
    // Progress of the load in flight (see LoadProgress); phases in order, tokens increasing.
    void load_progress(const QString& phase, int64_t done, int64_t total);
    void token_changed(int64_t token);
    void focus_changed(int layer, int head);
    void window_changed(int tokens);
    // After jump(): the position was set at once, not stepped to.
    void jumped(int64_t token);
    void frame_ready();
    void sequence_ready();
    void compute_failed(const QString& what, const QString& message);
    void busy_changed(bool busy);

private:
    bool generating_ = false;
    void post(std::function<void(EngineWorker&)> job);
    void request_frame(bool from_checkpoint = false);
    void request_sequence();
    void update_busy();
    void on_loaded(std::shared_ptr<const ModelSummary> s);
    // Shows `s` (a loaded model, or the one the engine kept after a failed or cancelled load).
    void adopt(std::shared_ptr<const ModelSummary> s);
    void on_not_loaded(uint64_t session, const QString& message, std::shared_ptr<const ModelSummary> kept);
    void on_progress(const LoadProgress& p);
    void on_frame(std::shared_ptr<const FrameResult> f);
    void on_sequence(std::shared_ptr<const SequenceResult> s);
    void on_failed(uint64_t session, uint64_t generation, const QString& what, const QString& message);

    QThread thread_;
    EngineWorker* worker_ = nullptr;
    uint64_t session_ = 0;        // the latest session requested
    uint64_t model_session_ = 0;  // the session whose model is shown
    uint64_t frame_generation_ = 0, sequence_generation_ = 0;
    bool loading_ = false, frame_pending_ = false, sequence_pending_ = false, was_busy_ = false;
    bool cancelling_ = false; // cancel_load() was asked; the engine has not answered yet
    QString loading_path_;
    std::shared_ptr<const ModelSummary> model_;
    std::shared_ptr<const FrameResult> frame_;
    std::shared_ptr<const SequenceResult> sequence_;
    int64_t token_ = 0;
    int layer_ = 0, head_ = 0, window_ = 32;
};

} // namespace statescope::app
