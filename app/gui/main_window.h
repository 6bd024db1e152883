// Statescope's main window: token strip and transport on top, the layer x head overview on the
// left, the focused head's state, attention maps and transition spectrum in the middle, the
// curves over the sequence and the 3-D state trajectory below. Everything it shows comes from the
// Controller; the window only lays views out and routes the user's requests.
#pragma once
#include "controller.h"
#include "statescope/frames/token_input.h"
#include "views/figure.h"

#include <QMainWindow>
#include <memory>

class QAbstractButton;
class QComboBox;
class QDoubleSpinBox;
class QProgressBar;
class QLabel;
class QMenu;

namespace statescope::views {
class AttentionRowView;
class CurvesView;
class EigenView;
class HeatmapView;
class OverviewGrid;
class Panel;
class PredictionView;
class ScaleControl;
class TokenStrip;
class TrajectoryView;
} // namespace statescope::views

namespace statescope::app {

class LessonPlayer;
class PresenterMode;
class SessionActions;
class TransportBar;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    Controller& controller() { return *controller_; }
    const Controller& controller() const { return *controller_; }
    // Saved sessions, the Bookmarks dock, autosave (session_actions.h).
    SessionActions& sessions() { return *sessions_; }
    // Opens a model with the current token input (set_token_input).
    void open_model(const QString& path);
    void set_token_input(TokenInput input) { input_ = std::move(input); }
    const TokenInput& token_input() const { return input_; }

    // The text of the error banner ("" when none is shown).
    QString error_text() const;
    // Shows a message in the error banner ("" hides it).
    void show_error(const QString& text);
    void report_error(const QString& text) { show_error(text); }
    // Runs the open model on these token ids (what Sequence > Set Token IDs does); an id that is
    // not a number or not in the model's vocabulary is named in the error banner. False then.
    bool set_token_ids(const QString& text);
    // The file name an export of `f` proposes: figure, layer, head and token ("state_L1_H2_T40"),
    // so that exports of different positions do not overwrite each other.
    QString export_file_name(const views::Figure& f) const;
    // Every view that can be exported (state, attention maps, eigenvalues, curves, overview, 3-D).
    std::vector<views::Figure*> figures() const;
    // Writes every figure as NAME.png, .svg, .pdf, .csv and .npy into `dir`; returns the errors.
    QStringList export_all(const QString& dir);
    // What exports say about themselves: the open model, focused layer and head, current token.
    views::FigureMetadata export_metadata() const;

    // Views, for tests and for the screenshot.
    views::HeatmapView* state_view() const { return state_; }
    views::HeatmapView* exact_attention_view() const { return exact_; }
    views::HeatmapView* softmax_attention_view() const { return softmax_; }
    views::EigenView* eigen_view() const { return eigen_; }
    views::CurvesView* curves_view() const { return curves_; }
    views::OverviewGrid* overview() const { return overview_; }
    views::TrajectoryView* trajectory_view() const { return trajectory_; }
    views::TokenStrip* token_strip() const { return strip_; }
    views::PredictionView* prediction_view() const { return prediction_; }
    views::Figure* prediction_curve_figure() const { return prediction_curve_.get(); }
    views::AttentionRowView* attention_row_view() const { return attention_row_; }
    // The colour-scale controls of the state and of the two attention maps.
    views::ScaleControl* state_scale() const { return state_scale_; }
    views::ScaleControl* exact_scale() const { return exact_scale_; }
    views::ScaleControl* softmax_scale() const { return softmax_scale_; }
    TransportBar* transport() const { return transport_; }
    // The panels in lessons::View order: overview, state, attention, spectrum, curves, 3-D,
    // prediction, attention row.
    std::vector<views::Panel*> panels() const;
    // The lesson dock and presenter mode (Lessons and View menus, F5).
    LessonPlayer* lesson_player() const { return lessons_; }
    PresenterMode* presenter() const { return presenter_; }
    // Shows a message in the window's error bar (empty: hides it).
    void show_message(const QString& text) { show_error(text); }
    // The load's progress bar and Cancel button in the status bar (shown while loading).
    QProgressBar* load_progress_bar() const { return load_bar_; }
    QAbstractButton* cancel_button() const { return cancel_button_; }

protected:
    void dragEnterEvent(QDragEnterEvent* e) override;
    void dropEvent(QDropEvent* e) override;
    void closeEvent(QCloseEvent* e) override;

private:
    void build_views();
    void build_menus();
    void build_shortcuts();
    void update_recent_menu();
    void remember_recent(const QString& path);
    void export_figure(views::Figure* f, bool image);
    void ask_prompt();
    void ask_token_ids();

    void on_model_loaded();
    void on_load_progress(const QString& phase, int64_t done, int64_t total);
    // Shows the progress bar while a load runs and the Cancel button while one runs or the
    // model generates.
    void update_load_controls();
    void ask_continue();
    void on_frame();
    void on_sequence();
    void on_token_changed(int64_t token);
    void on_focus_changed(int layer, int head);

    Controller* controller_;
    SessionActions* sessions_ = nullptr;
    TokenInput input_;
    TransportBar* transport_ = nullptr;
    views::TokenStrip* strip_ = nullptr;
    views::HeatmapView *state_ = nullptr, *exact_ = nullptr, *softmax_ = nullptr;
    views::EigenView* eigen_ = nullptr;
    views::CurvesView* curves_ = nullptr;
    views::OverviewGrid* overview_ = nullptr;
    views::TrajectoryView* trajectory_ = nullptr;
    views::Panel* overview_panel_ = nullptr;
    LessonPlayer* lessons_ = nullptr;
    PresenterMode* presenter_ = nullptr;
    views::PredictionView* prediction_ = nullptr;
    std::unique_ptr<views::Figure> prediction_curve_; // the prediction view's curve, for its numbers
    views::AttentionRowView* attention_row_ = nullptr;
    views::Panel *prediction_panel_ = nullptr, *attention_row_panel_ = nullptr;
    views::Panel *state_panel_ = nullptr, *attention_panel_ = nullptr, *eigen_panel_ = nullptr;
    views::Panel *curves_panel_ = nullptr, *trajectory_panel_ = nullptr;
    views::ScaleControl *state_scale_ = nullptr, *exact_scale_ = nullptr, *softmax_scale_ = nullptr;
    QLabel* error_ = nullptr;
    QWidget* error_bar_ = nullptr;
    QLabel *model_label_ = nullptr, *memory_label_ = nullptr, *timing_label_ = nullptr, *busy_label_ = nullptr;
    QMenu* recent_menu_ = nullptr;
    QProgressBar* load_bar_ = nullptr;
    QAbstractButton* cancel_button_ = nullptr;
};

} // namespace statescope::app
