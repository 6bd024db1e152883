// A titled frame around one or more figures, with a header row for the view's own controls and
// an export menu (picture: PNG/SVG/PDF, numbers: CSV/NPY) for each figure it holds.
#pragma once
#include "figure.h"

#include <QFrame>
#include <QString>
#include <vector>

class QHBoxLayout;
class QLabel;
class QToolButton;

namespace statescope::views {

class Panel : public QFrame {
    Q_OBJECT
public:
    Panel(const QString& title, QWidget* body, std::vector<Figure*> figures, QWidget* parent = nullptr);
    // Adds a control (combo box, check box, ...) to the header, after the title.
    void add_header_widget(QWidget* w);
    void set_info(const QString& text); // right-aligned status text in the header
    const std::vector<Figure*>& figures() const { return figures_; }

signals:
    void export_requested(statescope::views::Figure* figure, bool image);

private:
    QHBoxLayout* header_ = nullptr;
    QLabel* info_ = nullptr;
    QToolButton* export_ = nullptr;
    std::vector<Figure*> figures_;
};

} // namespace statescope::views
