// statescope-cli's subcommands, one function each (the table in cli_main.cpp gives each its
// flags and its usage lines). Each gets its arguments parsed and checked against its flags.
#pragma once
#include "arguments.h"

namespace statescope::cli {

int cmd_info(const Arguments& a);           // cli_main.cpp
int cmd_run(const Arguments& a);            // cli_main.cpp
int cmd_verify(const Arguments& a);         // cli_main.cpp
int cmd_synth(const Arguments& a);          // cli_models.cpp
int cmd_generate(const Arguments& a);       // cli_models.cpp
int cmd_bench_timeline(const Arguments& a); // cli_models.cpp
int cmd_bench_cpu(const Arguments& a);      // cli_models.cpp
int cmd_devices(const Arguments& a);        // cli_vulkan.cpp
int cmd_bench(const Arguments& a);          // cli_vulkan.cpp
int cmd_bench_model(const Arguments& a);    // cli_bench_model.cpp
int cmd_export(const Arguments& a);         // cli_export.cpp (built with the views)
int cmd_tokenize(const Arguments& a);       // cli_tokenize.cpp
int cmd_session(const Arguments& a);        // cli_session.cpp
int cmd_task(const Arguments& a);           // cli_task.cpp
int cmd_patch(const Arguments& a);          // cli_patch.cpp
int cmd_lenses(const Arguments& a);         // cli_lenses.cpp

} // namespace statescope::cli
