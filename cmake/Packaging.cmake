# CPack: a Debian package of exactly what `cmake --install` puts under /usr (see ObsPlugin.cmake).
#
#   cmake -B build && cmake --build build && (cd build && cpack -G DEB)
#
# Dependencies: dpkg-shlibdeps reads the ELF files and yields libc6, libgcc-s1, libstdc++6 and libobs0 at
# least the version of the headers the plugin was built against (29.0.2 on Debian 12). The plugin is built
# against libobs 29 and only tested with it: libobs keeps one soname (libobs.so.0) across OBS majors, so the
# soname cannot say when its ABI changes; an explicit upper bound keeps the package off an OBS 30 it was
# never built or tested for (rebuild the package there). OBS itself (the program that loads the plugin) is
# a Recommends: the plugin needs only libobs to load, and OBS comes in other packagings (e.g. Flatpak, which
# does not read /usr/lib).

set(CPACK_PACKAGE_NAME "${VBG_PLUGIN_NAME}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "obs-virtual-background")
set(CPACK_PACKAGE_CONTACT "obs-virtual-background maintainers <obs-virtual-background@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION video)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# CPack puts the summary on the first line and indents this below it.
set(CPACK_PACKAGE_DESCRIPTION "Virtual Background is a video filter for OBS Studio 29. It finds the person in \
the picture with a neural network (MediaPipe Selfie Segmentation or MODNet, run by a private copy of ONNX \
Runtime ${ONNXRUNTIME_VERSION}) and replaces the background with a blur, a picture, a colour or transparency.")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libobs0 (>= 29.0.0), libobs0 (<< 30~)")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "obs-studio (>= 29.0.0)")
set(CPACK_DEBIAN_PACKAGE_ENHANCES "obs-studio")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
if(ONNXRUNTIME_FLAVOUR STREQUAL gpu)
  # The CUDA/TensorRT providers link NVIDIA's CUDA 13 and cuDNN 9 libraries, which no Debian package provides
  # under those names (NVIDIA's own repositories do): dpkg-shlibdeps cannot resolve them, so the dependencies
  # are stated instead, and the providers load only where the user installed CUDA. Without it the filter runs
  # on the CPU and says so.
  # The values are what dpkg-shlibdeps derives for the plugin and the CPU build's library, which the GPU
  # build's main library matches (same release, same toolchain).
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.34), libgcc-s1 (>= 4.3), libstdc++6 (>= 10.2), ${CPACK_DEBIAN_PACKAGE_DEPENDS}")
  set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nvidia-driver")
  set(CPACK_PACKAGE_NAME "${VBG_PLUGIN_NAME}-gpu")
  set(CPACK_DEBIAN_PACKAGE_CONFLICTS "${VBG_PLUGIN_NAME}")
  set(CPACK_DEBIAN_PACKAGE_PROVIDES "${VBG_PLUGIN_NAME}")
  set(CPACK_DEBIAN_PACKAGE_REPLACES "${VBG_PLUGIN_NAME}")
endif()

include(CPack)
