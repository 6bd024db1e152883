// A QOpenGLWidget that VTK renders into. Debian's VTK Qt module is built against Qt 5, so this is
// the small bridge Statescope needs instead of QVTKOpenGLNativeWidget: Qt owns the context and the
// framebuffer, a vtkGenericOpenGLRenderWindow renders with that context, and paintGL blits VTK's
// frame into the widget's framebuffer (see docs/toolchain.md for the pitfalls this avoids).
#pragma once
#include <QOpenGLWidget>
#include <vtkNew.h>

class vtkGenericOpenGLRenderWindow;
class vtkRenderer;
class vtkRenderWindowInteractor;

namespace statescope::views {

class VtkWidget : public QOpenGLWidget {
    Q_OBJECT
public:
    explicit VtkWidget(QWidget* parent = nullptr);
    ~VtkWidget() override;

    vtkGenericOpenGLRenderWindow* render_window() const;
    vtkRenderer* renderer() const;
    // Schedules a repaint that re-renders the VTK scene.
    void render() { update(); }

protected:
    void initializeGL() override;
    void resizeGL(int w, int h) override;
    void paintGL() override;
    // Rotate (left drag), zoom (wheel), pan (middle drag): a trackball camera without VTK's
    // interactor, which would need a native window.
    void mousePressEvent(QMouseEvent* e) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void wheelEvent(QWheelEvent* e) override;

private:
    struct Vtk;
    Vtk* vtk_;
    QPointF last_mouse_;
    bool initialized_ = false;
};

} // namespace statescope::views
