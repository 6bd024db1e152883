#include "trajectory_view.h"

#include "plot_style.h"

#include <vtkActor.h>
#include <vtkCamera.h>
#include <vtkCellArray.h>
#include <vtkColorTransferFunction.h>
#include <vtkCubeAxesActor.h>
#include <vtkDoubleArray.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkPolyDataMapper.h>
#include <vtkProperty.h>
#include <vtkRenderer.h>
#include <vtkSmartPointer.h>
#include <vtkSphereSource.h>
#include <vtkCornerAnnotation.h>
#include <vtkTextProperty.h>
#include <vtkTubeFilter.h>

#include <algorithm>
#include <cmath>

namespace statescope::views {

struct TrajectoryView::Scene {
    vtkNew<vtkPolyData> path;
    vtkNew<vtkTubeFilter> tube;
    vtkNew<vtkPolyDataMapper> path_mapper;
    vtkNew<vtkActor> path_actor;
    vtkNew<vtkPolyData> dots;
    vtkNew<vtkPolyDataMapper> dots_mapper;
    vtkNew<vtkActor> dots_actor;
    vtkNew<vtkSphereSource> marker;
    vtkNew<vtkPolyDataMapper> marker_mapper;
    vtkNew<vtkActor> marker_actor;
    vtkSmartPointer<vtkCubeAxesActor> axes; // made anew for each trajectory (make_axes)
    vtkNew<vtkCornerAnnotation> caption;
    vtkNew<vtkColorTransferFunction> colors;
    double extent = 1;
};

TrajectoryView::TrajectoryView(QWidget* parent) : VtkWidget(parent), scene_(new Scene) {
    Scene& s = *scene_;
    vtkRenderer* ren = renderer();
    ren->SetBackground(1.0, 1.0, 1.0);
    // Viridis from start (dark purple) to end (yellow), as in the 2D views' sequential map.
    const double stops[][3] = {{0.267, 0.005, 0.329}, {0.231, 0.322, 0.545}, {0.129, 0.569, 0.549},
                               {0.369, 0.788, 0.384}, {0.992, 0.906, 0.145}};
    for (int i = 0; i < 5; ++i) s.colors->AddRGBPoint(i / 4.0, stops[i][0], stops[i][1], stops[i][2]);

    s.tube->SetInputData(s.path);
    s.tube->SetNumberOfSides(8);
    s.path_mapper->SetInputConnection(s.tube->GetOutputPort());
    s.path_mapper->SetLookupTable(s.colors);
    s.path_mapper->SetScalarRange(0, 1);
    s.path_actor->SetMapper(s.path_mapper);
    s.path_actor->GetProperty()->SetSpecular(0.3);

    s.dots_mapper->SetInputData(s.dots);
    s.dots_mapper->SetLookupTable(s.colors);
    s.dots_mapper->SetScalarRange(0, 1);
    s.dots_actor->SetMapper(s.dots_mapper);
    s.dots_actor->GetProperty()->SetPointSize(5);
    s.dots_actor->GetProperty()->SetRenderPointsAsSpheres(true);

    s.marker->SetThetaResolution(24);
    s.marker->SetPhiResolution(16);
    s.marker_mapper->SetInputConnection(s.marker->GetOutputPort());
    s.marker_actor->SetMapper(s.marker_mapper);
    s.marker_actor->GetProperty()->SetColor(1.0, 0.55, 0.0);
    s.marker_actor->GetProperty()->SetSpecular(0.5);

    s.caption->GetTextProperty()->SetColor(0.25, 0.25, 0.25);
    s.caption->SetMaximumFontSize(13);
    s.caption->SetLinearFontScaleFactor(2);
    s.caption->SetNonlinearFontScaleFactor(1);

    ren->AddActor(s.path_actor);
    ren->AddActor(s.dots_actor);
    ren->AddActor(s.marker_actor);
    ren->AddActor2D(s.caption);
    s.caption->SetText(vtkCornerAnnotation::UpperLeft, "no trajectory yet");
    make_axes();
    // Nothing to mark before there is a path: an unplaced sphere would fill the empty view.
    for (vtkActor* a : {s.path_actor.Get(), s.dots_actor.Get(), s.marker_actor.Get()}) a->SetVisibility(false);
    s.axes->SetVisibility(false);
}

TrajectoryView::~TrajectoryView() { delete scene_; }

// A fresh cube-axes actor for each trajectory: the actor keeps state from earlier renders (which
// edges it flew to, cached ranges), so reusing it draws a few pixels differently for the same
// data and camera; a new one draws the same picture whatever was shown before.
void TrajectoryView::make_axes() {
    Scene& s = *scene_;
    vtkRenderer* ren = renderer();
    if (s.axes) ren->RemoveActor(s.axes);
    s.axes = vtkSmartPointer<vtkCubeAxesActor>::New();
    s.axes->SetCamera(ren->GetActiveCamera());
    s.axes->SetFlyModeToOuterEdges();
    s.axes->SetGridLineLocation(vtkCubeAxesActor::VTK_GRID_LINES_FURTHEST);
    s.axes->DrawXGridlinesOn();
    s.axes->DrawYGridlinesOn();
    s.axes->DrawZGridlinesOn();
    for (int i = 0; i < 3; ++i) {
        s.axes->GetTitleTextProperty(i)->SetColor(0.2, 0.2, 0.2);
        s.axes->GetLabelTextProperty(i)->SetColor(0.35, 0.35, 0.35);
    }
    s.axes->GetXAxesLinesProperty()->SetColor(0.4, 0.4, 0.4);
    s.axes->GetYAxesLinesProperty()->SetColor(0.4, 0.4, 0.4);
    s.axes->GetZAxesLinesProperty()->SetColor(0.4, 0.4, 0.4);
    s.axes->GetXAxesGridlinesProperty()->SetColor(0.88, 0.88, 0.88);
    s.axes->GetYAxesGridlinesProperty()->SetColor(0.88, 0.88, 0.88);
    s.axes->GetZAxesGridlinesProperty()->SetColor(0.88, 0.88, 0.88);

    // Only the axis titles: tick labels of three axes crowd a small view and say little about
    // principal-component coordinates.
    s.axes->XAxisLabelVisibilityOff();
    s.axes->YAxisLabelVisibilityOff();
    s.axes->ZAxisLabelVisibilityOff();
    s.axes->XAxisMinorTickVisibilityOff();
    s.axes->YAxisMinorTickVisibilityOff();
    s.axes->ZAxisMinorTickVisibilityOff();
    s.axes->SetScreenSize(12);
    ren->AddActor(s.axes);
    restyle(); // the zoom and presenter mode apply to the new axes too
}

void TrajectoryView::restyle() {
    Scene& s = *scene_;
    const double f = style::font_scale();
    s.caption->SetMaximumFontSize(int(std::lround(13 * f)));
    for (int i = 0; i < 3; ++i) {
        s.axes->GetTitleTextProperty(i)->SetFontSize(int(std::lround(12 * f)));
        const double c = style::high_contrast() ? 0.0 : 0.2;
        s.axes->GetTitleTextProperty(i)->SetColor(c, c, c);
    }
    s.axes->SetScreenSize(12 * f);
    s.dots_actor->GetProperty()->SetPointSize(float(style::line_width(5)));
    s.tube->SetRadius(s.extent * 0.004 * style::line_width(1.0));
    render();
}

bool TrajectoryView::marker_visible() const { return scene_->marker_actor->GetVisibility() != 0; }


void TrajectoryView::set_data(TrajectoryData d) {
    d_ = std::move(d);
    rebuild();
}

void TrajectoryView::set_current(int64_t token) {
    current_ = token;
    Scene& s = *scene_;
    // The point of the nearest token at or before the current one (trajectories may be subsampled).
    const size_t n = d_.tokens.size();
    size_t best = 0;
    for (size_t i = 0; i < n; ++i)
        if (d_.tokens[i] <= token) best = i;
    s.marker_actor->SetVisibility(n > 0);
    if (n > 0) s.marker->SetCenter(d_.coords[best * 3], d_.coords[best * 3 + 1], d_.coords[best * 3 + 2]);
    render();
}

void TrajectoryView::rebuild() {
    Scene& s = *scene_;
    const size_t n = d_.tokens.size();
    vtkNew<vtkPoints> pts;
    vtkNew<vtkCellArray> line, verts;
    vtkNew<vtkDoubleArray> t;
    double lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    for (size_t i = 0; i < n; ++i) {
        const double* c = &d_.coords[i * 3];
        pts->InsertNextPoint(c);
        t->InsertNextValue(n > 1 ? double(i) / double(n - 1) : 0.0);
        for (int k = 0; k < 3; ++k) {
            lo[k] = i ? std::min(lo[k], c[k]) : c[k];
            hi[k] = i ? std::max(hi[k], c[k]) : c[k];
        }
    }
    line->InsertNextCell(vtkIdType(n));
    for (size_t i = 0; i < n; ++i) {
        line->InsertCellPoint(vtkIdType(i));
        verts->InsertNextCell(1);
        verts->InsertCellPoint(vtkIdType(i));
    }
    s.path->SetPoints(pts);
    s.path->SetLines(n > 1 ? line.Get() : nullptr);
    s.path->GetPointData()->SetScalars(t);
    s.dots->SetPoints(pts);
    s.dots->SetVerts(verts);
    s.dots->GetPointData()->SetScalars(t);
    s.extent = std::max({hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2], 1e-12});
    s.tube->SetRadius(s.extent * 0.004 * style::line_width(1.0));
    s.marker->SetRadius(s.extent * 0.025);
    // A flat axis (2-D data) still gets a visible box.
    double bounds[6];
    for (int k = 0; k < 3; ++k) {
        const double pad = std::max(hi[k] - lo[k], s.extent * 0.05) * 0.05;
        bounds[2 * k] = lo[k] - pad;
        bounds[2 * k + 1] = hi[k] + pad;
    }
    make_axes();
    s.axes->SetBounds(bounds);
    s.axes->SetVisibility(n > 0);
    s.path_actor->SetVisibility(n > 1);
    s.dots_actor->SetVisibility(n > 0);
    auto title = [&](int k) {
        return k < int(d_.explained.size()) ? QString("PC%1 (%2%)").arg(k + 1).arg(d_.explained[size_t(k)] * 100, 0, 'f', 1)
                                            : QString("PC%1").arg(k + 1);
    };
    s.axes->SetXTitle(title(0).toUtf8().constData());
    s.axes->SetYTitle(title(1).toUtf8().constData());
    s.axes->SetZTitle(title(2).toUtf8().constData());
    double total = 0;
    for (double e : d_.explained) total += e;
    QString caption = "no trajectory yet";
    if (n) {
        // Two lines: one would be cut at the view's right edge.
        caption = QString("PCA of S over %1 tokens\n").arg(n);
        for (size_t k = 0; k < d_.explained.size(); ++k)
            caption += QString(k ? " PC%1 %2%" : "PC%1 %2%").arg(k + 1).arg(d_.explained[k] * 100, 0, 'f', 1) + (k + 1 < d_.explained.size() ? "," : "");
        caption += QString(" (%1% in all)").arg(total * 100, 0, 'f', 1);
    }
    s.caption->SetText(vtkCornerAnnotation::UpperLeft, caption.toUtf8().constData());
    s.caption->SetText(vtkCornerAnnotation::LowerRight, n ? "path: first token dark, last yellow;  sphere: current token" : "");
    // The same camera for the same data, whatever was shown or rotated before (a reopened session
    // renders the same picture): start from a fixed pose, then turn to the usual oblique view.
    vtkCamera* cam = renderer()->GetActiveCamera();
    cam->SetPosition(0, 0, 1);
    cam->SetFocalPoint(0, 0, 0);
    cam->SetViewUp(0, 1, 0);
    cam->SetViewAngle(30);
    renderer()->ResetCamera(bounds);
    cam->Azimuth(30);
    cam->Elevation(20);
    cam->OrthogonalizeViewUp();
    renderer()->ResetCamera(bounds);
    cam->Zoom(1.25);
    // The clipping range from the data's box, not from the props as they stand (the marker is
    // still where the previous trajectory had it): the depth precision, and so which of two
    // coincident axis and grid lines is drawn, is then the same for the same data.
    renderer()->ResetCameraClippingRange(bounds);
    set_current(current_);
}

void TrajectoryView::render_figure(QPainter& p, const QRectF& area, bool) {
    // The VTK frame as an image: vector formats embed it.
    const QImage img = grabFramebuffer();
    p.fillRect(area, Qt::white);
    p.drawImage(area, img);
}

analysis::Array TrajectoryView::figure_data(QString* header) const {
    if (header) *header = "token,pc1,pc2,pc3";
    analysis::Array a;
    const size_t n = d_.tokens.size();
    a.shape = {int64_t(n), 4};
    for (size_t i = 0; i < n; ++i)
        a.values.insert(a.values.end(), {float(d_.tokens[i]), float(d_.coords[i * 3]), float(d_.coords[i * 3 + 1]),
                                         float(d_.coords[i * 3 + 2])});
    return a;
}

} // namespace statescope::views
