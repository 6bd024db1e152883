// VulkanWorker: the thread that owns the device. It creates a VulkanContext on its own thread and
// runs submitted jobs there, one at a time, in order. Callers on any thread submit a callable
// taking VulkanContext& and get a std::future of its result; errors (device loss included) come
// back through the future as exceptions.
//
// Stale work is dropped, never waited for: a job submitted with a lane name replaces the jobs of
// that lane still waiting in the queue (a UI that asks for the state at token 900 and then at 950
// only needs the second); their futures throw StaleWorkError. A job already running finishes.
// After a device loss the next job first reopens the device.
#pragma once
#include "core/error.h"
#include "vulkan/context.h"

#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>

namespace statescope::vk {

class StaleWorkError : public Error {
public:
    using Error::Error;
};

class VulkanWorker {
public:
    // Starts the thread and waits until its context exists; throws the context's error if the
    // device cannot be opened.
    explicit VulkanWorker(ContextOptions options = {});
    // Drops the queued jobs (their futures throw StaleWorkError), lets a running job finish, joins.
    ~VulkanWorker();
    VulkanWorker(const VulkanWorker&) = delete;
    VulkanWorker& operator=(const VulkanWorker&) = delete;

    // The device the worker opened (a copy taken at start-up; safe from any thread).
    const DeviceInfo& device() const { return device_; }

    template <class F>
    auto submit(F&& fn, const std::string& lane = {}) -> std::future<std::invoke_result_t<std::decay_t<F>&, VulkanContext&>> {
        using R = std::invoke_result_t<std::decay_t<F>&, VulkanContext&>;
        auto job = std::make_unique<TypedJob<std::decay_t<F>, R>>(std::forward<F>(fn));
        auto fut = job->promise.get_future();
        job->lane = lane;
        enqueue(std::move(job));
        return fut;
    }

    // Drops the queued jobs of a lane.
    void cancel(const std::string& lane);
    // Jobs waiting (not counting one that runs).
    size_t queued() const;

private:
    struct Job {
        virtual ~Job() = default;
        virtual void run(VulkanContext& ctx) = 0;
        virtual void fail(std::exception_ptr e) = 0;
        std::string lane;
    };
    template <class F, class R>
    struct TypedJob : Job {
        explicit TypedJob(F f) : fn(std::move(f)) {}
        void run(VulkanContext& ctx) override {
            try {
                if constexpr (std::is_void_v<R>) {
                    fn(ctx);
                    promise.set_value();
                } else {
                    promise.set_value(fn(ctx));
                }
            } catch (...) {
                promise.set_exception(std::current_exception());
            }
        }
        void fail(std::exception_ptr e) override { promise.set_exception(e); }
        F fn;
        std::promise<R> promise;
    };

    void enqueue(std::unique_ptr<Job> job);
    void loop();
    static void drop(std::deque<std::unique_ptr<Job>>& jobs, const std::string& why);

    ContextOptions options_;
    DeviceInfo device_;
    std::unique_ptr<VulkanContext> ctx_;   // touched only by the worker thread after start-up
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::unique_ptr<Job>> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace statescope::vk
