#include "vtk_widget.h"

#include <QMouseEvent>
#include <QOpenGLContext>
#include <QOpenGLExtraFunctions>
#include <QWheelEvent>
#include <cmath>
#include <vtkCallbackCommand.h>
#include <vtkCamera.h>
#include <vtkCommand.h>
#include <vtkGenericOpenGLRenderWindow.h>
#include <vtkOpenGLState.h>
#include <vtkRenderer.h>

namespace statescope::views {

struct VtkWidget::Vtk {
    vtkNew<vtkGenericOpenGLRenderWindow> window;
    vtkNew<vtkRenderer> renderer;
    vtkNew<vtkCallbackCommand> make_current, is_current;
};

VtkWidget::VtkWidget(QWidget* parent) : QOpenGLWidget(parent), vtk_(new Vtk) {
    // Mesa's llvmpipe offers 4.5 core; VTK needs 3.2 core.
    QSurfaceFormat fmt = QSurfaceFormat::defaultFormat();
    fmt.setRenderableType(QSurfaceFormat::OpenGL);
    fmt.setVersion(3, 2);
    fmt.setProfile(QSurfaceFormat::CoreProfile);
    fmt.setDepthBufferSize(24);
    fmt.setStencilBufferSize(8);
    fmt.setSamples(0);
    setFormat(fmt);
    vtk_->window->AddRenderer(vtk_->renderer);
    vtk_->window->SetMultiSamples(0);
    setMinimumSize(120, 120);
}

VtkWidget::~VtkWidget() {
    if (initialized_) {
        makeCurrent();
        vtk_->window->Finalize();
        doneCurrent();
    }
    delete vtk_;
}

vtkGenericOpenGLRenderWindow* VtkWidget::render_window() const { return vtk_->window; }
vtkRenderer* VtkWidget::renderer() const { return vtk_->renderer; }

void VtkWidget::initializeGL() {
    auto* w = vtk_->window.Get();
    // VTK asks through events whether its context is current and to make it current. It must be
    // made current on Qt's surface directly: QOpenGLWidget::makeCurrent() would also rebind Qt's
    // framebuffer behind VTK's state cache.
    vtk_->make_current->SetClientData(this);
    vtk_->make_current->SetCallback([](vtkObject*, unsigned long, void* self, void*) {
        auto* me = static_cast<VtkWidget*>(self);
        me->context()->makeCurrent(me->context()->surface());
    });
    vtk_->is_current->SetClientData(this);
    vtk_->is_current->SetCallback([](vtkObject*, unsigned long, void* self, void* call) {
        auto* me = static_cast<VtkWidget*>(self);
        *static_cast<bool*>(call) = QOpenGLContext::currentContext() == me->context();
    });
    w->AddObserver(vtkCommand::WindowMakeCurrentEvent, vtk_->make_current);
    w->AddObserver(vtkCommand::WindowIsCurrentEvent, vtk_->is_current);
    w->SetOwnContext(false);
    w->SetFrameBlitModeToNoBlit();
    w->SetForceMaximumHardwareLineWidth(1);
    w->SetReadyForRendering(true);
    w->OpenGLInitContext();
    initialized_ = true;
}

void VtkWidget::resizeGL(int w, int h) {
    const double dpr = devicePixelRatioF();
    vtk_->window->SetSize(int(w * dpr), int(h * dpr));
}

void VtkWidget::paintGL() {
    auto* w = vtk_->window.Get();
    vtkOpenGLState* state = w->GetState();
    // Qt changed GL state since the last frame: let VTK re-read it, and restore Qt's afterwards.
    state->Reset();
    state->Push();
    state->vtkglDepthFunc(GL_LEQUAL);
    w->Render();
    state->Pop();

    // Copy VTK's frame into the widget's framebuffer, then make it opaque (VTK clears with alpha 0,
    // which Qt would composite as transparent).
    QOpenGLExtraFunctions* f = context()->extraFunctions();
    f->glBindFramebuffer(GL_DRAW_FRAMEBUFFER, defaultFramebufferObject());
    const GLenum attachment = GL_COLOR_ATTACHMENT0;
    f->glDrawBuffers(1, &attachment);
    const int* size = w->GetSize();
    w->BlitDisplayFramebuffer(0, 0, 0, size[0], size[1], 0, 0, size[0], size[1], GL_COLOR_BUFFER_BIT, GL_NEAREST);
    f->glBindFramebuffer(GL_FRAMEBUFFER, defaultFramebufferObject());
    f->glColorMask(GL_FALSE, GL_FALSE, GL_FALSE, GL_TRUE);
    f->glClearColor(0, 0, 0, 1);
    f->glClear(GL_COLOR_BUFFER_BIT);
    f->glColorMask(GL_TRUE, GL_TRUE, GL_TRUE, GL_TRUE);
}

void VtkWidget::mousePressEvent(QMouseEvent* e) { last_mouse_ = e->position(); }

void VtkWidget::mouseMoveEvent(QMouseEvent* e) {
    const QPointF d = e->position() - last_mouse_;
    last_mouse_ = e->position();
    vtkCamera* cam = vtk_->renderer->GetActiveCamera();
    if (e->buttons() & Qt::LeftButton) {
        cam->Azimuth(-d.x() * 0.5);
        cam->Elevation(d.y() * 0.5);
        cam->OrthogonalizeViewUp();
    } else if (e->buttons() & Qt::MiddleButton) {
        double fp[3], pos[3];
        cam->GetFocalPoint(fp);
        cam->GetPosition(pos);
        const double scale = cam->GetParallelProjection() ? cam->GetParallelScale() : cam->GetDistance() * 0.5;
        double right[3], up[3];
        cam->GetViewUp(up);
        const double* dir = cam->GetDirectionOfProjection();
        right[0] = dir[1] * up[2] - dir[2] * up[1];
        right[1] = dir[2] * up[0] - dir[0] * up[2];
        right[2] = dir[0] * up[1] - dir[1] * up[0];
        const double k = 2 * scale / std::max(1, height());
        for (int i = 0; i < 3; ++i) {
            const double shift = -d.x() * k * right[i] + d.y() * k * up[i];
            fp[i] += shift;
            pos[i] += shift;
        }
        cam->SetFocalPoint(fp);
        cam->SetPosition(pos);
    } else {
        return;
    }
    vtk_->renderer->ResetCameraClippingRange();
    update();
}

void VtkWidget::wheelEvent(QWheelEvent* e) {
    vtk_->renderer->GetActiveCamera()->Dolly(std::pow(1.1, e->angleDelta().y() / 120.0));
    vtk_->renderer->ResetCameraClippingRange();
    update();
}

} // namespace statescope::views
