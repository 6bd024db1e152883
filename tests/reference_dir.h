// Where ../shared/reference and the in-repo references live, for every test (the app's tests use only this; the engine's
// tests get it through test_support.h).
#pragma once
#include <QDir>
#include <QStringList>
#include <cstdlib>
#include <string>

namespace testsupport {

// ../shared/reference (set at configure time; overridable by STATESCOPE_REFERENCE_DIR).
inline std::string reference_dir() {
    if (const char* e = std::getenv("STATESCOPE_REFERENCE_DIR")) return e;
    return STATESCOPE_REFERENCE_DIR;
}

// The 12 folders of ../shared/reference/models, sorted.
inline QStringList reference_model_names() {
    QDir d(QString::fromStdString(reference_dir() + "/models"));
    return d.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
}

// The references committed in this repository (tests/data/references: families added after
// ../shared/reference was written, produced by the same libraries with
// tools/make_family_references.py in the same layout).
inline std::string family_reference_dir() { return std::string(STATESCOPE_SOURCE_DIR) + "/tests/data/references"; }

// Its folders, sorted.
inline QStringList family_reference_names() {
    QDir d(QString::fromStdString(family_reference_dir()));
    return d.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
}

} // namespace testsupport
