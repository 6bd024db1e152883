// The words the views use, each in plain words and as a formula, for a student who meets them
// on a plot: reachable from every panel's title ("?"), opened at the entry of that view.
#pragma once
#include <QString>
#include <vector>

class QWidget;

namespace statescope::views {

struct GlossaryEntry {
    QString key;      // anchor: "state", "exact-map", ...
    QString term;     // "State S_t"
    QString plain;    // what it is, in plain words
    QString formula;  // the same as a formula
};

const std::vector<GlossaryEntry>& glossary();
// The whole glossary as HTML, one section per entry, each with its key as anchor.
QString glossary_html();
// Opens the glossary (non-modal, one window reused) scrolled to the entry `key`.
void show_glossary(QWidget* parent, const QString& key);

} // namespace statescope::views
