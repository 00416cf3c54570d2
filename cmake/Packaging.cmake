# CPack: a Debian package of exactly what `cmake --install` puts under /usr (see ObsPlugin.cmake).
#
#   cmake -B build && cmake --build build && (cd build && cpack -G DEB)
#   (scripts/package-deb does this and puts the one .deb into dist/)
#
# One package for every release and every packaging of OBS as a .deb. The binary is built on Debian 12
# against the libobs 29.0.2 headers, needs glibc 2.34 at most, and loads unchanged in OBS 29.0.2, 30.2.3 and
# 32.2.2 (scripts/test-obs-versions installs this same package in each Debian release and runs the end-to-end
# checks; docs/obs-versions.md has the API review). What differs between systems is only the name of the
# package that carries libobs.so.0, so the dependency on it names every one, lowest versions first tested or
# inferred:
#   libobs0 (>= 29.0.0)       Debian 12 (29.0.2, tested); Debian 13 and sid's libobs0t64 also Provide
#                             `libobs0 (= its version)`, which satisfies this too
#   libobs0t64 (>= 30.0.0)    Debian 13 (30.2.3) and sid (32.x), tested; Ubuntu 24.04 (30.0.2), not tested
#                             here (no Ubuntu archive): libobs accepts plugins built against an older libobs,
#                             and the API review covers 29 to 32, so 30.0 and 31 are inferred
#   obs-studio (>= 29.0.0)    the OBS project's Ubuntu PPA, whose single obs-studio package carries libobs and
#                             conflicts with libobs0 (not reachable here; the package relations are tested
#                             with a package of that shape, scripts/test-package-relations)
# The C and C++ runtime bounds are what dpkg-shlibdeps derives for the plugin and ONNX Runtime on Debian 12,
# which every later release satisfies; they are stated rather than derived, because shlibdeps would add a
# hard `libobs0 (>= 27.0.1)` that no alternative can override. No upper bound: libobs keeps its ABI for
# plugins within the soname. OBS itself is a Recommends: the plugin needs only libobs to load, and OBS comes
# in other packagings too (the Flatpak does not read /usr/lib: use the portable archive there).

set(_vbg_runtime_depends "libc6 (>= 2.34), libgcc-s1 (>= 4.3), libstdc++6 (>= 10.2)")
set(_vbg_libobs_depends "libobs0 (>= 29.0.0) | libobs0t64 (>= 30.0.0) | obs-studio (>= 29.0.0)")
set(_vbg_obs_recommends "obs-studio (>= 29.0.0)")

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
set(CPACK_PACKAGE_DESCRIPTION "Virtual Background is a video filter for OBS Studio 29 or later. It finds the person in \
the picture with a neural network (MediaPipe Selfie Segmentation or MODNet, run by a private copy of ONNX \
Runtime ${ONNXRUNTIME_VERSION}) and replaces the background with a blur, a picture, a colour or transparency.")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_vbg_runtime_depends}, ${_vbg_libobs_depends}")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "${_vbg_obs_recommends}")
set(CPACK_DEBIAN_PACKAGE_ENHANCES "obs-studio")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
if(ONNXRUNTIME_FLAVOUR STREQUAL gpu)
  # The CUDA/TensorRT providers link NVIDIA's CUDA 13 and cuDNN 9 libraries, which no Debian package provides
  # under those names (NVIDIA's own repositories do): dpkg-shlibdeps cannot resolve them, so the dependencies
  # are stated instead, and the providers load only where the user installed CUDA. Without it the filter runs
  # on the CPU and says so.
  # The Depends are the CPU package's (the GPU build's main library needs the same C and C++ runtime).
  set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nvidia-driver")
  set(CPACK_PACKAGE_NAME "${VBG_PLUGIN_NAME}-gpu")
  set(CPACK_DEBIAN_PACKAGE_CONFLICTS "${VBG_PLUGIN_NAME}")
  set(CPACK_DEBIAN_PACKAGE_PROVIDES "${VBG_PLUGIN_NAME}")
  set(CPACK_DEBIAN_PACKAGE_REPLACES "${VBG_PLUGIN_NAME}")
endif()

include(CPack)
