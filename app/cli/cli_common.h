// Helpers the statescope-cli subcommands share.
#pragma once
#include "arguments.h"
#include "statescope/backend.h"
#include "statescope/model.h"

#include <chrono>
#include <memory>
#include <string>

namespace statescope::cli {

double seconds_since(std::chrono::steady_clock::time_point t0);
// A model folder, or a config .json (not a folder's config.json) turned into a synthetic model.
std::unique_ptr<Model> open_any(const std::string& path);
// The last component of a path, for tables.
std::string short_name(std::string path);
// The backend request of --backend (default `fallback`), --device and --weights: strict, so a
// backend that cannot run is an Error naming the option.
BackendRequest backend_request(const Arguments& a, const std::string& fallback);
// `model` on the backend --backend and --device ask for (engine/backend.h).
OpenedModel open_on_backend(const Arguments& a, const std::string& fallback, std::unique_ptr<Model> model);

} // namespace statescope::cli
