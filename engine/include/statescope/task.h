// The synthetic tasks of the demonstration models (assets/models/*/task.json, written by
// tools/train_demos.py): reading a task's description, drawing fresh sequences from it with a
// seed, and scoring a model's logits on them. The sampler follows the distribution task.json
// describes (the one the training script draws from), not its random numbers, so an accuracy
// measured here agrees with the script's within sampling error. Same seed, same sequence, on
// every machine (the generator is ours, not the standard library's).
#pragma once
#include "statescope/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace statescope::task {

enum class Kind {
    Mqar,          // k v k v ... then the keys again, each followed by its value
    RunningParity, // 0/1 inputs; at each position the parity so far
    SelectiveCopy, // data tokens among noise, a separator, then the data tokens in order
    S3Composition, // elements of S3; at each position the running product
};

struct Spec {
    Kind kind = Kind::Mqar;
    std::string name;  // task.json's "kind"
    std::string path;  // the task.json it came from
    // Mqar: ids key_first .. key_first + keys - 1 and value_first .. value_first + values - 1.
    int32_t key_first = 0, keys = 0, value_first = 0, values = 0;
    // RunningParity: the ids of "0" and "1".
    int32_t zero = 0, one = 1;
    // SelectiveCopy: data ids data_first .. data_first + data - 1, the noise and separator ids,
    // and how many data tokens a sequence holds.
    int32_t data_first = 0, data = 0, noise = 0, separator = 0, n_data = 0;
    // S3Composition: table[prev][x] = id of x o prev; the identity's id.
    std::vector<std::vector<int32_t>> table;
    int32_t identity = 0;
    // The size a sample has unless asked otherwise: pairs (Mqar), length (RunningParity,
    // S3Composition) or the noise region (SelectiveCopy).
    int64_t default_size = 0;
};

// What the size of a sample counts for a task: "pairs", "length" or "region".
const char* size_name(Kind kind);
// The sequence length of a sample of the given size.
int64_t sequence_length(const Spec& spec, int64_t size);

// True when the model folder (or the folder of a config.json) has a task.json.
bool has_task(const std::string& model_dir);
// Reads `model_dir`/task.json (or a task.json path itself). Throws Error naming the file and the
// key that is missing, of the wrong type or out of range.
Spec load_task(const std::string& model_dir_or_task_json);

struct SampleOptions {
    uint64_t seed = 0;
    int64_t size = 0; // pairs, length or region (size_name); 0: the task's default
};

struct Sample {
    std::vector<int32_t> tokens;
    // Per position t: the id the model should predict from tokens 0..t (argmax of logits[t]),
    // or -1 where the task scores nothing.
    std::vector<int32_t> targets;
    uint64_t seed = 0;
    int64_t size = 0;
    // How the sample was made, for saved sessions: {"task":"mqar","seed":S,"pairs":P}.
    std::string settings_json() const;
    // The kind of the task, kept for settings_json.
    std::string task;
    std::string size_name;
};

// A fresh sample. Throws Error for a size the task cannot have (e.g. more MQAR pairs than keys).
Sample sample(const Spec& spec, const SampleOptions& options);

struct Score {
    int64_t correct = 0, scored = 0;           // scored positions and those whose argmax is the target
    int64_t samples = 0, last_correct = 0;     // samples, and those right at a scored last position
    int64_t last_scored = 0;                   // samples whose last position is scored
    double accuracy() const { return scored ? double(correct) / double(scored) : 0.0; }
    double last_accuracy() const { return last_scored ? double(last_correct) / double(last_scored) : 0.0; }
};

// Adds one sample's result: `logits` is [T, vocab] for the sample's T tokens.
void add_score(const Sample& sample, const Tensor& logits, Score& score);

} // namespace statescope::task
