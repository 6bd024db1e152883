#include "cli_common.h"

#include "statescope/error.h"

namespace statescope::cli {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::unique_ptr<Model> open_any(const std::string& path) {
    if (path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0 && path.find("config.json") == std::string::npos)
        return load_synthetic_model(path, 1);
    return load_model(path);
}

std::string short_name(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (auto slash = path.find_last_of('/'); slash != std::string::npos) path = path.substr(slash + 1);
    return path;
}

BackendRequest backend_request(const Arguments& a, const std::string& fallback) {
    BackendRequest r;
    r.kind = parse_backend("--backend", a.get("backend", fallback));
    r.device = a.get("device");
    r.weights = a.get("weights", "auto");
    r.strict = true;
    return r;
}

OpenedModel open_on_backend(const Arguments& a, const std::string& fallback, std::unique_ptr<Model> model) {
    return Backends(backend_request(a, fallback)).open(std::move(model));
}

} // namespace statescope::cli
