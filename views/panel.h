// A titled frame around one or more figures, with a header row for the view's own controls and
// an export menu (picture: PNG/SVG/PDF, numbers: CSV/NPY) for each figure it holds.
#pragma once
#include "figure.h"

#include <QFrame>
#include <QString>
#include <QStringList>
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
    // A "?" beside the title that opens the glossary at these entries' first (views/glossary.h);
    // its tooltip names them all.
    void set_glossary(const QStringList& keys);
    QToolButton* glossary_button() const { return glossary_; }
    const std::vector<Figure*>& figures() const { return figures_; }

signals:
    void export_requested(statescope::views::Figure* figure, bool image);

private:
    QHBoxLayout* header_ = nullptr;
    QLabel* info_ = nullptr;
    QToolButton* export_ = nullptr;
    QToolButton* glossary_ = nullptr;
    std::vector<Figure*> figures_;
};

} // namespace statescope::views
