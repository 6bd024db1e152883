#include "view_content.h"

#include "attention_row_view.h"
#include "curves_view.h"
#include "eigen_view.h"
#include "heatmap_view.h"
#include "overview_grid.h"
#include "prediction_view.h"

namespace statescope::views {

void show_state(HeatmapView& v, const FrameResult& f, const LayerInfo& L) {
    if (f.recurrent) {
        v.set_axis_labels("key dim", "value dim");
        v.set_title(QString("S after token %1").arg(f.token),
                    QString("layer %1, head %2 · %3 · K=%4 V=%5").arg(f.layer).arg(f.head)
                        .arg(QString::fromStdString(L.mixer_name)).arg(L.key_dim).arg(L.value_dim));
    } else {
        v.set_axis_labels("key dim", "cache position");
        v.set_title(QString("Key cache after token %1").arg(f.token),
                    QString("layer %1, head %2 · softmax attention: its memory grows with the sequence").arg(f.layer).arg(f.head));
    }
    v.set_matrix(f.state);
}

void show_attention(HeatmapView& exact, HeatmapView& softmax, const FrameResult& f, const std::vector<std::string>& labels) {
    exact.set_token_labels(to_qstrings(labels));
    softmax.set_token_labels(to_qstrings(labels));
    // A softmax layer's own map is the exact one, and non-negative: one sequential map suffices.
    exact.set_title(f.recurrent ? "Exact (implied by the recurrence)" : "Softmax attention (the layer's own)");
    exact.set_colormap(f.recurrent ? Colormap::diverging() : Colormap::sequential());
    // What the numbers are, under each map with its colour scale.
    QString note = f.recurrent ? "raw weights, signed, rows need not sum to 1" : "softmax over all positions, window part";
    // A short convolution before the recurrence shifts where a stored key shows up: say so.
    if (f.recurrent && f.conv_width > 1)
        note += QString(" · short conv of width %1 first: a peak can sit up to %2 token%3 after its token")
                    .arg(f.conv_width).arg(f.conv_width - 1).arg(f.conv_width == 2 ? "" : "s");
    exact.set_value_note(note);
    softmax.set_value_note("softmax over the window, rows sum to 1");
    exact.set_matrix(f.exact, int(f.window_first), int(f.window_first));
    exact.set_column_groups(f.substeps);
    exact.set_highlight_row(f.exact.rows - 1);
    softmax.set_matrix(f.softmax, int(f.window_first), int(f.window_first));
    softmax.set_column_groups(f.substeps);
    softmax.set_highlight_row(f.softmax.rows - 1);
}

void show_eigen(EigenView& v, const FrameResult& f) {
    if (f.recurrent) v.set_data(f.eigen);
    else v.set_message("Layer " + QString::number(f.layer) + " is softmax attention: no transition matrix.");
}

void show_overview(OverviewGrid& v, const FrameResult& f) {
    v.set_data(f.overview);
    v.set_focus(f.layer, f.head);
}

void show_curves(CurvesView& v, const SequenceResult& s, int64_t token) {
    if (s.curves.norms.empty() && s.curves.row_entropy.empty()) {
        v.set_message(QString("Layer %1 has no curves.").arg(s.layer));
        return;
    }
    v.set_data(s.curves);
    v.set_current(token);
}

std::vector<QString> to_qstrings(const std::vector<std::string>& labels) {
    std::vector<QString> out;
    out.reserve(labels.size());
    for (const std::string& l : labels) out.push_back(QString::fromStdString(l));
    return out;
}

void show_prediction(PredictionView& v, const FrameResult& f, const std::vector<std::string>& labels) {
    v.set_token_labels(to_qstrings(labels));
    v.set_prediction(f.prediction);
    v.set_current(f.token);
}

void show_prediction_curve(PredictionView& v, const SequenceResult& s, int64_t token) {
    v.set_curve(s.prediction);
    v.set_current(token);
}

void show_attention_row(AttentionRowView& v, const FrameResult& f, const std::vector<std::string>& labels) {
    v.set_token_labels(to_qstrings(labels));
    if (f.exact.empty()) {
        v.set_message("no attention map at this token");
        return;
    }
    // The map's last row is the current token's (the window ends at it).
    auto last_row = [](const Matrix& m) {
        if (m.empty()) return std::vector<float>();
        return std::vector<float>(m.values.end() - m.cols, m.values.end());
    };
    v.set_note(QString::fromStdString(f.inputs));
    v.set_row(f.token, f.window_first, f.recurrent ? f.substeps : 1, last_row(f.exact),
              f.recurrent ? last_row(f.softmax) : std::vector<float>(), f.recurrent);
}

FigureMetadata figure_metadata(const QString& model, const FrameResult& f, int window) {
    FigureMetadata m;
    m.model = model;
    m.layer = f.layer;
    m.head = f.head;
    m.token = f.token;
    m.window = window;
    return m;
}

} // namespace statescope::views
