#include "controller.h"

#include <algorithm>

namespace statescope::app {

Controller::Controller(QObject* parent) : QObject(parent) {
    // Results are handed to this object's thread (the UI thread) as queued calls; if the
    // controller is gone by then, Qt drops them.
    EngineWorker::Callbacks cb;
    cb.loaded = [this](std::shared_ptr<const ModelSummary> s) {
        QMetaObject::invokeMethod(this, [this, s] { on_loaded(s); }, Qt::QueuedConnection);
    };
    cb.frame = [this](std::shared_ptr<const FrameResult> f) {
        QMetaObject::invokeMethod(this, [this, f] { on_frame(f); }, Qt::QueuedConnection);
    };
    cb.sequence = [this](std::shared_ptr<const SequenceResult> s) {
        QMetaObject::invokeMethod(this, [this, s] { on_sequence(s); }, Qt::QueuedConnection);
    };
    cb.failed = [this](uint64_t session, uint64_t generation, QString what, QString message) {
        QMetaObject::invokeMethod(this, [=, this] { on_failed(session, generation, what, message); }, Qt::QueuedConnection);
    };
    cb.not_loaded = [this](uint64_t session, QString message, std::shared_ptr<const ModelSummary> kept) {
        QMetaObject::invokeMethod(this, [=, this] { on_not_loaded(session, message, kept); }, Qt::QueuedConnection);
    };
    cb.progress = [this](const LoadProgress& p) {
        QMetaObject::invokeMethod(this, [this, p] { on_progress(p); }, Qt::QueuedConnection);
    };
    worker_ = new EngineWorker(std::move(cb));
    worker_->moveToThread(&thread_);
    thread_.setObjectName("statescope-engine");
    thread_.start();
}

Controller::~Controller() {
    // Skip whatever is queued, let the running job finish, then free the engine.
    worker_->latest_session.store(EngineWorker::kShuttingDown);
    thread_.quit();
    thread_.wait();
    delete worker_;
}

void Controller::post(std::function<void(EngineWorker&)> job) {
    EngineWorker* w = worker_;
    QMetaObject::invokeMethod(w, [w, job = std::move(job)] { job(*w); }, Qt::QueuedConnection);
}

int Controller::heads_of(int layer) const {
    if (!model_ || layer < 0 || layer >= int(model_->info.layers.size())) return 0;
    return model_->info.layers[size_t(layer)].heads;
}

void Controller::open_model(const QString& path, const TokenInput& input, bool keep_model) {
    LoadRequest r;
    r.session = ++session_;
    r.path = path.toStdString();
    r.input = input;
    r.keep_model = keep_model;
    worker_->latest_session.store(r.session);
    loading_ = true;
    cancelling_ = false;
    loading_path_ = path;
    emit load_started(path);
    update_busy();
    post([r](EngineWorker& w) { w.load(r); });
}

void Controller::set_tokens(const TokenInput& input) {
    if (model_) open_model(QString::fromStdString(model_->path), input, /*keep_model=*/true);
}

void Controller::stop_generation() {
    if (generating_) worker_->stop_generation.store(true);
}

void Controller::cancel_load() {
    if (!loading_ || cancelling_) return;
    // Every request is stale now, the load's too: the engine abandons it and answers with
    // on_not_loaded, after which requests for the shown model flow again.
    cancelling_ = true;
    worker_->latest_session.store(EngineWorker::kCancelled);
}

void Controller::cancel() {
    if (generating_) stop_generation();
    else cancel_load();
}

void Controller::continue_from(int64_t token, int count, const SamplingOptions& sampling) {
    if (!model_ || loading_ || generating_) return;
    ContinueRequest r;
    r.session = ++session_;
    r.keep = std::clamp<int64_t>(token, 0, length() - 1) + 1;
    r.count = count;
    r.sampling = sampling;
    worker_->latest_session.store(r.session);
    loading_ = true;
    cancelling_ = false;
    loading_path_ = QString::fromStdString(model_->path);
    emit load_started(loading_path_);
    update_busy();
    post([r](EngineWorker& w) { w.continue_sequence(r); });
}

void Controller::set_token(int64_t token) {
    if (!model_ || model_->tokens.empty()) return;
    token = std::clamp<int64_t>(token, 0, length() - 1);
    if (token == token_) return;
    token_ = token;
    emit token_changed(token_);
    request_frame();
}

void Controller::set_focus(int layer, int head) {
    if (!model_) return;
    layer = std::clamp(layer, 0, int(model_->info.layers.size()) - 1);
    head = std::clamp(head, 0, std::max(0, heads_of(layer) - 1));
    if (layer == layer_ && head == head_) return;
    layer_ = layer;
    head_ = head;
    emit focus_changed(layer_, head_);
    request_frame();
    request_sequence();
}

void Controller::set_window(int tokens) {
    tokens = std::max(1, tokens);
    if (tokens == window_) return;
    window_ = tokens;
    emit window_changed(window_);
    request_frame();
    request_sequence(); // the entropy curve depends on the window
}

void Controller::jump(int64_t token, int layer, int head) {
    if (!model_ || model_->tokens.empty()) return;
    token = std::clamp<int64_t>(token, 0, length() - 1);
    layer = std::clamp(layer, 0, int(model_->info.layers.size()) - 1);
    head = std::clamp(head, 0, std::max(0, heads_of(layer) - 1));
    const bool focus_moved = layer != layer_ || head != head_;
    token_ = token;
    layer_ = layer;
    head_ = head;
    if (focus_moved) emit focus_changed(layer_, head_);
    emit token_changed(token_);
    emit jumped(token_);
    request_frame(/*from_checkpoint=*/true);
    if (focus_moved || !sequence_) request_sequence();
}

void Controller::request_frame(bool from_checkpoint) {
    if (!model_ || model_->tokens.empty()) return;
    FrameRequest r;
    r.from_checkpoint = from_checkpoint;
    r.session = model_session_;
    r.generation = ++frame_generation_;
    r.token = token_;
    r.layer = layer_;
    r.head = head_;
    r.window = window_;
    worker_->latest_frame.store(r.generation);
    frame_pending_ = true;
    update_busy();
    post([r](EngineWorker& w) { w.frame(r); });
}

void Controller::request_sequence() {
    if (!model_ || model_->tokens.empty()) return;
    SequenceRequest r;
    r.session = model_session_;
    r.generation = ++sequence_generation_;
    r.layer = layer_;
    r.head = head_;
    r.window = window_;
    worker_->latest_sequence.store(r.generation);
    sequence_pending_ = true;
    update_busy();
    post([r](EngineWorker& w) { w.sequence(r); });
}

void Controller::update_busy() {
    if (busy() != was_busy_) {
        was_busy_ = busy();
        emit busy_changed(was_busy_);
    }
}

void Controller::on_loaded(std::shared_ptr<const ModelSummary> s) {
    if (s->session != session_) return; // a newer load was asked for
    adopt(std::move(s));
}

void Controller::adopt(std::shared_ptr<const ModelSummary> s) {
    const bool cancel_asked = cancelling_;
    model_ = std::move(s);
    session_ = model_session_ = model_->session;
    // A cancel that came too late (the load had finished) leaves nothing stale.
    worker_->latest_session.store(session_);
    loading_ = cancelling_ = false;
    generating_ = model_->generating;
    // Cancel came while the first generated token was on its way: the generation stops there.
    if (cancel_asked) stop_generation();
    frame_.reset();
    sequence_.reset();
    // Keep the focus where the new model has it; start at the last token, where the state
    // holds the whole sequence.
    layer_ = std::clamp(layer_, 0, std::max(0, int(model_->info.layers.size()) - 1));
    head_ = std::clamp(head_, 0, std::max(0, heads_of(layer_) - 1));
    token_ = std::max<int64_t>(0, length() - 1);
    emit model_loaded();
    emit focus_changed(layer_, head_);
    emit token_changed(token_);
    request_frame();
    request_sequence();
    update_busy();
}

void Controller::on_not_loaded(uint64_t session, const QString& message, std::shared_ptr<const ModelSummary> kept) {
    if (session != session_) return; // a newer request will answer
    const bool cancelled = message.isEmpty();
    if (kept && (!model_ || kept->session != model_session_)) {
        // The engine holds another model than the one shown (a load finished just before a
        // newer one was asked for, or a continuation got some tokens in): show that one.
        adopt(std::move(kept));
    } else {
        loading_ = cancelling_ = generating_ = false;
        session_ = model_session_;
        worker_->latest_session.store(model_session_);
        // Requests made meanwhile were stale for the engine: ask again.
        if (model_) {
            request_frame();
            request_sequence();
        }
    }
    if (cancelled) emit load_cancelled(loading_path_);
    else emit load_failed(loading_path_, message);
    update_busy();
}

void Controller::on_progress(const LoadProgress& p) {
    if (p.session != session_ || !loading_ || cancelling_) return;
    emit load_progress(QString::fromStdString(p.phase), p.done, p.total);
}

void Controller::on_frame(std::shared_ptr<const FrameResult> f) {
    if (f->session != model_session_ || f->generation != frame_generation_) return;
    frame_ = std::move(f);
    frame_pending_ = false;
    emit frame_ready();
    update_busy();
}

void Controller::on_sequence(std::shared_ptr<const SequenceResult> s) {
    if (s->session != model_session_ || s->generation != sequence_generation_) return;
    sequence_ = std::move(s);
    sequence_pending_ = false;
    emit sequence_ready();
    update_busy();
}

void Controller::on_failed(uint64_t session, uint64_t generation, const QString& what, const QString& message) {
    if (session == model_session_) {
        if (what == "frame" && generation == frame_generation_) frame_pending_ = false;
        else if (what == "sequence" && generation == sequence_generation_) sequence_pending_ = false;
        else return;
        emit compute_failed(what, message);
    }
    update_busy();
}

} // namespace statescope::app
