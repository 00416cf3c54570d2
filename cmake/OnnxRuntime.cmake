# The plugin's private ONNX Runtime: the library, the provider libraries of a GPU build, and their licence
# and third-party notices.
#
# ONNXRUNTIME_ROOT is a folder holding libonnxruntime.so.1.31.1, LICENSE and ThirdPartyNotices.txt (and, for
# the GPU build, libonnxruntime_providers_*.so). By default it is the folder scripts/setup fills from the PyPI
# wheel (~/.cache/obs-virtual-background/ort; scripts/setup --gpu fills .../ort-gpu). Alternatively pass
# ONNXRUNTIME_WHEEL, a downloaded onnxruntime or onnxruntime-gpu 1.31.1 wheel: it is checked against the same
# sha256 pins as scripts/setup and unpacked into the build folder.

set(ONNXRUNTIME_VERSION 1.31.1)
set(ONNXRUNTIME_LIBRARY_NAME "libonnxruntime.so.${ONNXRUNTIME_VERSION}")
# Same pins as scripts/setup (CPython 3.11, manylinux_2_28 x86-64 wheels from PyPI).
set(_ort_cpu_wheel_sha256 5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f)
set(_ort_gpu_wheel_sha256 e26c475fe361b2015f45b4b824bd13f0bb20204e59b62814e6f0acd5f3d491a6)

if(DEFINED ENV{XDG_CACHE_HOME} AND NOT "$ENV{XDG_CACHE_HOME}" STREQUAL "")
  set(VBG_CACHE_DIR "$ENV{XDG_CACHE_HOME}/obs-virtual-background")
else()
  set(VBG_CACHE_DIR "$ENV{HOME}/.cache/obs-virtual-background")
endif()

set(ONNXRUNTIME_ROOT "${VBG_CACHE_DIR}/ort" CACHE PATH
  "Folder with ${ONNXRUNTIME_LIBRARY_NAME}, LICENSE and ThirdPartyNotices.txt (scripts/setup fetches it)")
set(ONNXRUNTIME_WHEEL "" CACHE FILEPATH
  "Optional: an onnxruntime(-gpu) ${ONNXRUNTIME_VERSION} wheel to take the runtime from instead of ONNXRUNTIME_ROOT")

set(_ort_dir "${ONNXRUNTIME_ROOT}")
if(ONNXRUNTIME_WHEEL)
  file(SHA256 "${ONNXRUNTIME_WHEEL}" _ort_wheel_sha256)
  if(NOT _ort_wheel_sha256 STREQUAL _ort_cpu_wheel_sha256 AND NOT _ort_wheel_sha256 STREQUAL _ort_gpu_wheel_sha256)
    message(FATAL_ERROR "${ONNXRUNTIME_WHEEL} has sha256 ${_ort_wheel_sha256}: not one of the pinned "
      "onnxruntime / onnxruntime-gpu ${ONNXRUNTIME_VERSION} wheels")
  endif()
  set(_ort_unpacked "${CMAKE_BINARY_DIR}/onnxruntime-wheel")
  file(REMOVE_RECURSE "${_ort_unpacked}")
  # The CPU wheel carries libonnxruntime_providers_shared.so too, but only the GPU build needs it (as the
  # bridge to its CUDA and TensorRT providers); scripts/setup takes the same files.
  set(_ort_members "onnxruntime/capi/${ONNXRUNTIME_LIBRARY_NAME}" onnxruntime/LICENSE onnxruntime/ThirdPartyNotices.txt)
  if(_ort_wheel_sha256 STREQUAL _ort_gpu_wheel_sha256)
    list(APPEND _ort_members "onnxruntime/capi/libonnxruntime_providers_*.so")
  endif()
  file(ARCHIVE_EXTRACT INPUT "${ONNXRUNTIME_WHEEL}" DESTINATION "${_ort_unpacked}" PATTERNS ${_ort_members})
  file(COPY "${_ort_unpacked}/onnxruntime/LICENSE" "${_ort_unpacked}/onnxruntime/ThirdPartyNotices.txt"
    DESTINATION "${_ort_unpacked}/capi-flat")
  file(GLOB _ort_libs "${_ort_unpacked}/onnxruntime/capi/libonnxruntime*.so*")
  file(COPY ${_ort_libs} DESTINATION "${_ort_unpacked}/capi-flat")
  set(_ort_dir "${_ort_unpacked}/capi-flat")
endif()

set(ONNXRUNTIME_LIBRARY "${_ort_dir}/${ONNXRUNTIME_LIBRARY_NAME}")
set(ONNXRUNTIME_LICENSE "${_ort_dir}/LICENSE")
set(ONNXRUNTIME_NOTICES "${_ort_dir}/ThirdPartyNotices.txt")
foreach(_f IN ITEMS ONNXRUNTIME_LIBRARY ONNXRUNTIME_LICENSE ONNXRUNTIME_NOTICES)
  if(NOT EXISTS "${${_f}}")
    message(FATAL_ERROR "${${_f}} not found. Run scripts/setup (it fetches ONNX Runtime ${ONNXRUNTIME_VERSION} "
      "from PyPI), or pass -DONNXRUNTIME_ROOT=<folder> or -DONNXRUNTIME_WHEEL=<wheel>.")
  endif()
endforeach()
# The GPU build's providers (CUDA, TensorRT and the shared bridge); the CPU build has none.
file(GLOB ONNXRUNTIME_PROVIDER_LIBRARIES "${_ort_dir}/libonnxruntime_providers_*.so")
if(EXISTS "${_ort_dir}/libonnxruntime_providers_cuda.so" OR EXISTS "${_ort_dir}/libonnxruntime_providers_tensorrt.so")
  set(ONNXRUNTIME_FLAVOUR gpu)
else()
  set(ONNXRUNTIME_FLAVOUR cpu)
endif()
message(STATUS "ONNX Runtime ${ONNXRUNTIME_VERSION} (${ONNXRUNTIME_FLAVOUR} build): ${ONNXRUNTIME_LIBRARY}")
