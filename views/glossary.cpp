#include "glossary.h"

#include <QDialog>
#include <QPointer>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace statescope::views {

const std::vector<GlossaryEntry>& glossary() {
    static const std::vector<GlossaryEntry> entries = {
        {"state", "State S<sub>t</sub>",
         "The layer's memory after token t: one K × V matrix per head. Every token writes the outer product of its key and "
         "its value into it (after the old content is decayed, rotated or partly erased by the transition A<sub>t</sub>); "
         "reading it with a query returns a mix of the values stored under similar keys.",
         "S<sub>t</sub> = A<sub>t</sub> S<sub>t−1</sub> + β<sub>t</sub> k<sub>t</sub> v<sub>t</sub><sup>T</sup>,   "
         "o<sub>t</sub> = S<sub>t</sub><sup>T</sup> q<sub>t</sub>"},
        {"exact-map", "Exact attention map",
         "How much each earlier token's value contributes to the current token's output, exactly as the recurrence computes "
         "it: unrolling S<sub>t</sub> writes the output as a weighted sum of the values. The weights are signed and a row need "
         "not sum to 1; a key that a later token erased (delta rule) loses its weight.",
         "o<sub>t</sub> = Σ<sub>s≤t</sub> w<sub>t,s</sub> v<sub>s</sub>,   w<sub>t,s</sub> = β<sub>s</sub> "
         "q<sub>t</sub><sup>T</sup> A<sub>t</sub> A<sub>t−1</sub> ⋯ A<sub>s+1</sub> k<sub>s</sub>"},
        {"softmax-map", "Softmax map (for comparison)",
         "What softmax attention would do with the same queries and keys: every weight positive, every row summing to 1. "
         "Where it differs from the exact map, the recurrence behaves unlike attention.",
         "a<sub>t,s</sub> = exp(q<sub>t</sub>·k<sub>s</sub>) / Σ<sub>s′≤t</sub> exp(q<sub>t</sub>·k<sub>s′</sub>)"},
        {"attention-row", "Attention row",
         "The current query's row of the exact map (and of the softmax map), one bar per key token. The tallest bar is the "
         "earlier token whose value the query reads. A short convolution before the recurrence mixes each token with the few "
         "before it, so the bar can stand a token or two after the token it stands for.",
         "bar of key s = w<sub>t,s</sub> (exact),  a<sub>t,s</sub> (softmax)"},
        {"prediction", "Prediction",
         "What the model expects next after the current token: the softmax of its output logits. The target is what the task "
         "says should come (else the token that really follows); its rank is 1 when the model's best guess is right.",
         "p<sub>i</sub> = exp(z<sub>i</sub>) / Σ<sub>j</sub> exp(z<sub>j</sub>),   rank = 1 + #{ i : z<sub>i</sub> > "
         "z<sub>target</sub> }"},
        {"effective-rank", "Effective rank",
         "How many independent directions the state really uses: 1 when it is a single outer product, min(K, V) when all "
         "directions are equally strong. A memory of n unrelated pairs needs rank about n.",
         "erank = exp(−Σ<sub>i</sub> p<sub>i</sub> ln p<sub>i</sub>),   p<sub>i</sub> = σ<sub>i</sub> / Σ<sub>j</sub> "
         "σ<sub>j</sub>  (σ: singular values of S)"},
        {"entropy", "Attention entropy",
         "How spread out a row of attention is: 0 when it looks at one token, ln n when it looks at n tokens equally.",
         "H = −Σ<sub>s</sub> p<sub>s</sub> ln p<sub>s</sub>  (exact rows: p<sub>s</sub> = |w<sub>t,s</sub>| / Σ |w|)"},
        {"spectral-radius", "Spectral radius",
         "The largest size of an eigenvalue of the transition: below 1 what is stored fades, at 1 it is kept, a negative "
         "eigenvalue flips its sign each token, a complex pair rotates it.",
         "ρ(A) = max<sub>i</sub> |λ<sub>i</sub>(A)|"},
        {"half-life", "Half-life",
         "How many tokens it takes for the most persistent direction of the state to shrink to half, if nothing new is "
         "written: infinite when ρ = 1.",
         "h = ln(1/2) / ln ρ   (ρ per token)"},
        {"window-product", "Product over a window",
         "The transitions of the window's tokens multiplied together: what is left, after W tokens, of something stored W "
         "tokens ago. Its eigenvalues show what the window as a whole keeps, flips or rotates; the per-token rate makes "
         "windows of different lengths comparable.",
         "P = A<sub>t</sub> A<sub>t−1</sub> ⋯ A<sub>t−W+1</sub>,   rate = |μ|<sup>1/W</sup> for each eigenvalue μ of P"},
    };
    return entries;
}

QString glossary_html() {
    QString html = "<html><body style='font-size:11pt'><h2>Glossary</h2>";
    for (const GlossaryEntry& e : glossary())
        html += "<h3><a name='" + e.key + "'></a>" + e.term + "</h3><p>" + e.plain + "</p><p style='font-family:serif; "
                "font-size:12pt; margin-left:16px'>" + e.formula + "</p>";
    return html + "</body></html>";
}

void show_glossary(QWidget* parent, const QString& key) {
    static QPointer<QDialog> dialog;
    static QPointer<QTextBrowser> text;
    if (!dialog) {
        dialog = new QDialog(parent);
        dialog->setWindowTitle("Statescope glossary");
        dialog->setObjectName("glossary");
        dialog->resize(620, 640);
        auto* v = new QVBoxLayout(dialog);
        text = new QTextBrowser(dialog);
        text->setHtml(glossary_html());
        v->addWidget(text);
    }
    dialog->show();
    dialog->raise();
    text->scrollToAnchor(key);
}

} // namespace statescope::views
