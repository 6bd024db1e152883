// What each view shows for a frame or a sequence result: data, titles, axis labels and colour
// maps. The window (MainWindow::on_frame, on_sequence) and `statescope-cli export` both fill
// their views through these, so a figure made on the command line is the one the window shows.
#pragma once
#include "figure.h"
#include "statescope/frames/frame.h"

namespace statescope::views {

class AttentionRowView;
class CurvesView;
class PredictionView;
class EigenView;
class HeatmapView;
class OverviewGrid;
using frames::FrameResult;
using frames::SequenceResult;

// The focused head's state S_t (recurrent layers) or its key cache (softmax layers).
void show_state(HeatmapView& v, const FrameResult& f, const LayerInfo& layer);
// The exact map implied by the recurrence and the softmax map of the same q . k; for a softmax
// layer its own map in `exact` (`softmax` is then not shown: the caller hides it).
// `labels` (the sequence's token texts) name the tokens on the axes, in read-outs and the CSV.
void show_attention(HeatmapView& exact, HeatmapView& softmax, const FrameResult& f, const std::vector<std::string>& labels = {});
// The spectrum of A_t and of the window's product; a softmax layer has none and says so.
void show_eigen(EigenView& v, const FrameResult& f);
void show_overview(OverviewGrid& v, const FrameResult& f);
// The curves over the sequence with `token` marked (a message where the layer has none).
void show_curves(CurvesView& v, const SequenceResult& s, int64_t token);

// The next-token prediction after the frame's token; `labels` are the sequence's token texts.
void show_prediction(PredictionView& v, const FrameResult& f, const std::vector<std::string>& labels);
// The expected token's probability over the sequence, `token` marked.
void show_prediction_curve(PredictionView& v, const SequenceResult& s, int64_t token);
// The current query's row of the exact and softmax maps over the key tokens, labelled with their text.
void show_attention_row(AttentionRowView& v, const FrameResult& f, const std::vector<std::string>& labels);
std::vector<QString> to_qstrings(const std::vector<std::string>& labels);

// What an export of the current view says about itself: model folder, layer, head, token, window.
FigureMetadata figure_metadata(const QString& model, const FrameResult& f, int window);

} // namespace statescope::views
