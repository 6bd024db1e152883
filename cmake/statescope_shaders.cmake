# statescope_add_kernels(<target> VARIANTS "name|source|defines"...)
#
# The one way shaders are built: compiles every GLSL compute shader of the calling directory to
# SPIR-V (glslc), reflects each module's interface (tools/kernel_table_gen.cpp) and makes the
# static library <target> holding the generated kernel table:
#   vulkan/kernels.h - enum class Kernel with one identifier per module and each module's
#                      bindings and push-constant size (constexpr, read from its SPIR-V);
#   kernels.cpp      - the SPIR-V words (kernel_spirv() in engine/vulkan/kernel_table.h).
# Each .comp file is one module of its own name with no defines, unless VARIANTS lists rows
# "name|source|defines" (defines comma-separated) for it: then those rows are its modules.
function(statescope_add_kernels target)
    cmake_parse_arguments(ARG "" "" "VARIANTS" ${ARGN})
    find_program(GLSLC_EXECUTABLE glslc REQUIRED)
    if(NOT TARGET statescope_kernel_table_gen)
        add_executable(statescope_kernel_table_gen ${CMAKE_SOURCE_DIR}/tools/kernel_table_gen.cpp)
        target_compile_features(statescope_kernel_table_gen PRIVATE cxx_std_20)
        target_compile_options(statescope_kernel_table_gen PRIVATE -Wall -Wextra)
    endif()

    set(src_dir ${CMAKE_CURRENT_SOURCE_DIR})
    file(GLOB all_comp RELATIVE ${src_dir} CONFIGURE_DEPENDS ${src_dir}/*.comp)
    set(rows ${ARG_VARIANTS})
    set(listed_sources "")
    foreach(row ${rows})
        string(REPLACE "|" ";" fields "${row}")
        list(GET fields 1 source)
        list(APPEND listed_sources ${source})
    endforeach()
    foreach(source ${all_comp})
        if(NOT source IN_LIST listed_sources)
            get_filename_component(stem ${source} NAME_WE)
            list(APPEND rows "${stem}|${source}|")
        endif()
    endforeach()

    set(spv_dir ${CMAKE_CURRENT_BINARY_DIR}/spv)
    set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/generated)
    file(MAKE_DIRECTORY ${spv_dir} ${gen_dir}/vulkan)
    set(modules "")
    set(spv_files "")
    foreach(row ${rows})
        string(REPLACE "|" ";" fields "${row}")
        list(GET fields 0 name)
        list(GET fields 1 source)
        set(define_flags "")
        list(LENGTH fields nfields)
        if(nfields GREATER 2)
            list(GET fields 2 defines)
            string(REPLACE "," ";" defines "${defines}")
            foreach(d ${defines})
                list(APPEND define_flags "-D${d}")
            endforeach()
        endif()
        set(spv ${spv_dir}/${name}.spv)
        add_custom_command(
            OUTPUT ${spv}
            COMMAND ${GLSLC_EXECUTABLE} --target-env=vulkan1.2 -O -Werror -I ${src_dir} ${define_flags}
                    -MD -MF ${spv}.d -o ${spv} ${src_dir}/${source}
            DEPENDS ${src_dir}/${source}
            DEPFILE ${spv}.d
            COMMENT "glslc ${source} -> ${name}.spv"
            VERBATIM)
        list(APPEND modules "${name}=${spv}")
        list(APPEND spv_files ${spv})
    endforeach()

    set(header ${gen_dir}/vulkan/kernels.h)
    set(source ${gen_dir}/kernels.cpp)
    add_custom_command(
        OUTPUT ${header} ${source}
        COMMAND statescope_kernel_table_gen ${header} ${source} ${modules}
        DEPENDS statescope_kernel_table_gen ${spv_files}
        COMMENT "Kernel table: reflecting the SPIR-V of ${target} into vulkan/kernels.h"
        VERBATIM)
    add_library(${target} STATIC ${source} ${header})
    # vulkan/kernels.h for its users; kernels.cpp includes vulkan/kernel_table.h from engine/.
    target_include_directories(${target} PUBLIC ${gen_dir} PRIVATE ${CMAKE_SOURCE_DIR}/engine)
endfunction()
