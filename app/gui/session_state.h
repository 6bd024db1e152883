// Between the window's state and a saved session (statescope/session.h): where a sequence came
// from and how to make it again, the views' scale settings by name, and the window's panel layout
// as the session's opaque layout string. No widgets are created here.
#pragma once
#include "statescope/frames/token_input.h"
#include "statescope/sampling.h"
#include "statescope/session.h"

#include <QString>
#include <QVariantMap>
#include <vector>

class QMainWindow;

namespace statescope::views {
class ScaleControl;
class HeatmapView;
} // namespace statescope::views

namespace statescope::app {

// The part a freshly run input makes of a sequence of `length` tokens: "prompt" (text), "task"
// (with the sample's settings) or "ids".
session::SequencePart part_of(const frames::TokenInput& input, int64_t length);
// What a continuation's part records: its sampling settings and seed, and how many tokens were asked.
std::string generation_settings(const SamplingOptions& sampling, int count);

// The input that makes the session's sequence again: its prompt text (tokenized by the model as
// before), or its task sample (drawn again from the saved seed and size, with its targets), or its
// ids; tokens of later parts (a generation) are appended as they are. `model` is where the
// checkpoint is now (a task sample is drawn from its task.json). Throws Error naming the session
// file and the part at fault.
frames::TokenInput input_of(const session::Session& s, const std::string& file, const std::string& model);

// The session's name for a scale mode ("per-frame", "fixed", "symlog"), and back (false: unknown).
std::string scale_name(const views::HeatmapView& view);
// Sets the control and its view to the saved settings; the view takes the saved limit exactly
// (the control's box rounds it to its decimals).
bool apply_scale(views::ScaleControl& control, views::HeatmapView& view, const session::ViewSettings& settings);

// The window's dock and splitter layout, as a JSON object; `extra` members (the recovery file's
// owner and session path) are added to it.
std::string capture_layout(const QMainWindow& window, const QVariantMap& extra = {});
// Restores what capture_layout saved; false for a layout this window cannot read (nothing changes).
bool restore_layout(QMainWindow& window, const std::string& layout);
// A member of the layout's JSON object ("" when missing or not JSON).
QString layout_value(const std::string& layout, const QString& key);

} // namespace statescope::app
