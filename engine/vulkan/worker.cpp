#include "vulkan/worker.h"

namespace statescope::vk {

VulkanWorker::VulkanWorker(ContextOptions options) : options_(std::move(options)) {
    std::promise<void> started;
    auto ready = started.get_future();
    thread_ = std::thread([this, &started] {
        try {
            ctx_ = std::make_unique<VulkanContext>(options_);
            device_ = ctx_->device();
            started.set_value();
        } catch (...) {
            started.set_exception(std::current_exception());
            return;
        }
        loop();
    });
    try {
        ready.get();
    } catch (...) {
        thread_.join();
        throw;
    }
}

VulkanWorker::~VulkanWorker() {
    std::deque<std::unique_ptr<Job>> dropped;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        dropped.swap(queue_);
    }
    wake_.notify_all();
    drop(dropped, "the Vulkan worker was shut down before this job ran");
    if (thread_.joinable()) thread_.join();
}

void VulkanWorker::drop(std::deque<std::unique_ptr<Job>>& jobs, const std::string& why) {
    for (auto& j : jobs) j->fail(std::make_exception_ptr(StaleWorkError(why)));
    jobs.clear();
}

void VulkanWorker::enqueue(std::unique_ptr<Job> job) {
    std::deque<std::unique_ptr<Job>> superseded;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) {
            job->fail(std::make_exception_ptr(StaleWorkError("the Vulkan worker is shutting down")));
            return;
        }
        if (!job->lane.empty()) {
            for (auto it = queue_.begin(); it != queue_.end();) {
                if ((*it)->lane == job->lane) {
                    superseded.push_back(std::move(*it));
                    it = queue_.erase(it);
                } else {
                    ++it;
                }
            }
        }
        queue_.push_back(std::move(job));
    }
    wake_.notify_one();
    // Outside the lock: a future's continuation must not run under our mutex.
    drop(superseded, "superseded by newer work in the same lane");
}

void VulkanWorker::cancel(const std::string& lane) {
    std::deque<std::unique_ptr<Job>> dropped;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = queue_.begin(); it != queue_.end();) {
            if ((*it)->lane == lane) {
                dropped.push_back(std::move(*it));
                it = queue_.erase(it);
            } else {
                ++it;
            }
        }
    }
    drop(dropped, "cancelled");
}

size_t VulkanWorker::queued() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.size();
}

void VulkanWorker::loop() {
    for (;;) {
        std::unique_ptr<Job> job;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) break;
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        if (!ctx_ || ctx_->lost()) {
            // The device was lost by an earlier job: open it again for this one.
            try {
                ctx_.reset();
                ctx_ = std::make_unique<VulkanContext>(options_);
            } catch (...) {
                job->fail(std::current_exception());
                continue;
            }
        }
        job->run(*ctx_);
    }
    ctx_.reset(); // the context dies on the thread that owns it
}

} // namespace statescope::vk
