# CPack: a Debian package of exactly what `cmake --install` puts under /usr (see ObsPlugin.cmake).
#
#   cmake -B build -DVBG_DEBIAN_RELEASE=trixie && cmake --build build && (cd build && cpack -G DEB)
#   (scripts/package-deb RELEASE does this and puts the one .deb into dist/)
#
# One binary serves every release: it is built on Debian 12 against the libobs 29.0.2 headers, needs glibc
# 2.34 at most, and loads unchanged in OBS 29.0.2, 30.2.3 and 32.2.2 (scripts/test-obs-versions installs each
# release's package in that release and runs the end-to-end checks; docs/obs-versions.md has the API review).
# What differs per release is the name of the libobs package: Debian 13 and later ship libobs as libobs0t64
# (the 64-bit time_t transition renamed it; the soname stays libobs.so.0). libobs0t64 also Provides
# `libobs0 (= its version)`, so a libobs0 dependency would resolve there too, but the per-release package
# names the package that really exists there. VBG_DEBIAN_RELEASE picks the Depends, and the release goes into
# the version and the file name so the packages of different releases never overwrite each other:
#   bookworm  libobs0 (>= 29.0.0)       OBS 29.0.2    obs-virtual-background_0.1.0~deb12_amd64.deb
#   trixie    libobs0t64 (>= 30.2.3)    OBS 30.2.3    obs-virtual-background_0.1.0~deb13_amd64.deb
#   sid       libobs0t64 (>= 30.2.3)    OBS 32.x      obs-virtual-background_0.1.0~deb14_amd64.deb
# No upper bound: libobs keeps its ABI for plugins within the soname and no tested OBS broke the plugin.
# The lower bound for libobs0t64 is the oldest OBS tested (Ubuntu 24.04's 30.0.2 is libobs0t64 too, untested).
# dpkg-shlibdeps reads the ELF files on the build machine: for bookworm it yields libc6, libgcc-s1,
# libstdc++6 and libobs0; for trixie/sid its libobs0 (the build machine's package name) must not appear, so
# there the dependencies are stated: the C and C++ runtime bounds are the ones shlibdeps derives on Debian 12,
# which every later release satisfies. OBS itself (the program that loads the plugin) is a Recommends: the
# plugin needs only libobs to load, and OBS comes in other packagings (e.g. Flatpak, which does not read
# /usr/lib).

set(VBG_DEBIAN_RELEASE bookworm CACHE STRING "Debian release the .deb is for: bookworm, trixie or sid")
set_property(CACHE VBG_DEBIAN_RELEASE PROPERTY STRINGS bookworm trixie sid)
# What dpkg-shlibdeps derives for the plugin and ONNX Runtime on Debian 12 (besides libobs).
set(_vbg_runtime_depends "libc6 (>= 2.34), libgcc-s1 (>= 4.3), libstdc++6 (>= 10.2)")
if(VBG_DEBIAN_RELEASE STREQUAL bookworm)
  set(_vbg_libobs_depends "libobs0 (>= 29.0.0)")
  set(_vbg_obs_recommends "obs-studio (>= 29.0.0)")
  set(_vbg_version_suffix "~deb12")
  set(_vbg_obs_versions "29")
elseif(VBG_DEBIAN_RELEASE STREQUAL trixie OR VBG_DEBIAN_RELEASE STREQUAL sid)
  set(_vbg_libobs_depends "libobs0t64 (>= 30.2.3)")
  set(_vbg_obs_recommends "obs-studio (>= 30.2.3)")
  if(VBG_DEBIAN_RELEASE STREQUAL trixie)
    set(_vbg_version_suffix "~deb13")
    set(_vbg_obs_versions "30.2")
  else()
    set(_vbg_version_suffix "~deb14")
    set(_vbg_obs_versions "32")
  endif()
else()
  message(FATAL_ERROR "VBG_DEBIAN_RELEASE=${VBG_DEBIAN_RELEASE}: expected bookworm, trixie or sid")
endif()

set(CPACK_PACKAGE_NAME "${VBG_PLUGIN_NAME}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}${_vbg_version_suffix}")
set(CPACK_PACKAGE_VENDOR "obs-virtual-background")
set(CPACK_PACKAGE_CONTACT "obs-virtual-background maintainers <obs-virtual-background@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION video)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# CPack puts the summary on the first line and indents this below it.
set(CPACK_PACKAGE_DESCRIPTION "Virtual Background is a video filter for OBS Studio (this package: \
Debian ${VBG_DEBIAN_RELEASE}, OBS ${_vbg_obs_versions}). It finds the person in \
the picture with a neural network (MediaPipe Selfie Segmentation or MODNet, run by a private copy of ONNX \
Runtime ${ONNXRUNTIME_VERSION}) and replaces the background with a blur, a picture, a colour or transparency.")
if(VBG_DEBIAN_RELEASE STREQUAL bookworm)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_vbg_libobs_depends}")
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_vbg_runtime_depends}, ${_vbg_libobs_depends}")
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "${_vbg_obs_recommends}")
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
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_vbg_runtime_depends}, ${_vbg_libobs_depends}")
  set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nvidia-driver")
  set(CPACK_PACKAGE_NAME "${VBG_PLUGIN_NAME}-gpu")
  set(CPACK_DEBIAN_PACKAGE_CONFLICTS "${VBG_PLUGIN_NAME}")
  set(CPACK_DEBIAN_PACKAGE_PROVIDES "${VBG_PLUGIN_NAME}")
  set(CPACK_DEBIAN_PACKAGE_REPLACES "${VBG_PLUGIN_NAME}")
endif()

include(CPack)
