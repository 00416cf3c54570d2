# Where OBS Studio finds the plugin, and what goes there.
#
# Debian and Ubuntu build OBS with the prefix /usr and CMAKE_INSTALL_LIBDIR = lib/<multiarch triplet>, and OBS
# searches exactly ${prefix}/${libdir}/obs-plugins for plugins and ${prefix}/share/obs/obs-plugins/<name>
# for their data. GNUInstallDirs picks the multiarch libdir only when the prefix is /usr at configure time,
# but `cmake --install build --prefix /usr` sets the prefix later: so the plugin folder is computed from the
# triplet directly, and `cmake -B build` followed by an install with --prefix /usr lands where OBS looks.
#
#   ${prefix}/lib/x86_64-linux-gnu/obs-plugins/obs-virtual-background.so         the plugin
#   ${prefix}/lib/x86_64-linux-gnu/obs-plugins/obs-virtual-background/           its private ONNX Runtime
#   ${prefix}/share/obs/obs-plugins/obs-virtual-background/                      locale, effect, models, sample
#   ${prefix}/share/doc/obs-virtual-background/                                  copyright and licence notices
#
# The plugin finds its ONNX Runtime through its RUNPATH ($ORIGIN/obs-virtual-background, set by build.rs).

set(VBG_PLUGIN_NAME obs-virtual-background)
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(_vbg_libdir "lib/${CMAKE_LIBRARY_ARCHITECTURE}")
else()
  set(_vbg_libdir "${CMAKE_INSTALL_LIBDIR}")
endif()
set(OBS_PLUGIN_DESTINATION "${_vbg_libdir}/obs-plugins" CACHE STRING
  "OBS plugin folder, relative to the install prefix")
set(OBS_DATA_DESTINATION "${CMAKE_INSTALL_DATADIR}/obs/obs-plugins/${VBG_PLUGIN_NAME}" CACHE STRING
  "The plugin's data folder, relative to the install prefix")
set(VBG_DOC_DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/${VBG_PLUGIN_NAME}")

# MODNet (portrait matting) is not in the repository: scripts/setup fetches it. Its weights are Apache-2.0
# (models/LICENSE-MODNet.md), which allows redistribution with the licence and attribution, so the package
# carries it when it is available; without it the other models still work.
option(VBG_BUNDLE_MODNET "Install the MODNet model fetched by scripts/setup" ON)
set(VBG_MODNET_MODEL "${VBG_CACHE_DIR}/models/modnet.onnx" CACHE FILEPATH "The MODNet model to install")
set(_vbg_modnet_sha256 07c308cf0fc7e6e8b2065a12ed7fc07e1de8febb7dc7839d7b7f15dd66584df9)

# Everything 0644, shared libraries included (Debian policy); directories 0755.
set(_vbg_mode OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
set(_data_mode PERMISSIONS ${_vbg_mode})

install(FILES "${VBG_PLUGIN_BINARY}" DESTINATION "${OBS_PLUGIN_DESTINATION}"
  RENAME "${VBG_PLUGIN_NAME}.so" ${_data_mode})
# Cargo's release profile keeps line tables (for readable panics and profiles in development): the installed
# plugin drops them, 18 MB -> a few MB. (install(TARGETS) would strip by itself; this file comes from cargo.)
option(VBG_STRIP "Strip debug information from the installed plugin" ON)
if(VBG_STRIP AND CMAKE_STRIP)
  install(CODE "execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug
    \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${OBS_PLUGIN_DESTINATION}/${VBG_PLUGIN_NAME}.so\" COMMAND_ERROR_IS_FATAL ANY)")
endif()
install(FILES "${ONNXRUNTIME_LIBRARY}" ${ONNXRUNTIME_PROVIDER_LIBRARIES}
  DESTINATION "${OBS_PLUGIN_DESTINATION}/${VBG_PLUGIN_NAME}" ${_data_mode})

install(DIRECTORY data/locale data/sample DESTINATION "${OBS_DATA_DESTINATION}" FILE_PERMISSIONS ${_vbg_mode})
install(FILES shaders/virtual_background.effect DESTINATION "${OBS_DATA_DESTINATION}/effects" ${_data_mode})
install(FILES
    models/selfie_segmentation.onnx
    models/selfie_segmentation_landscape.onnx
    models/README.md
    models/LICENSE-Apache-2.0.txt
    models/LICENSE-MODNet.md
  DESTINATION "${OBS_DATA_DESTINATION}/models" ${_data_mode})

set(VBG_MODNET_INSTALLED OFF)
if(VBG_BUNDLE_MODNET)
  if(EXISTS "${VBG_MODNET_MODEL}")
    file(SHA256 "${VBG_MODNET_MODEL}" _modnet_sha256)
    if(NOT _modnet_sha256 STREQUAL _vbg_modnet_sha256)
      message(FATAL_ERROR "${VBG_MODNET_MODEL} has sha256 ${_modnet_sha256}, not the reviewed MODNet model")
    endif()
    install(FILES "${VBG_MODNET_MODEL}" DESTINATION "${OBS_DATA_DESTINATION}/models" RENAME modnet.onnx ${_data_mode})
    set(VBG_MODNET_INSTALLED ON)
  else()
    message(WARNING "${VBG_MODNET_MODEL} not found (run scripts/setup): installing without MODNet")
  endif()
endif()

# Licence notices: the plugin (GPL-2.0-or-later), the models, ONNX Runtime and its third-party components.
install(FILES cmake/debian/copyright LICENSE DESTINATION "${VBG_DOC_DESTINATION}" ${_data_mode})
install(FILES models/LICENSE-Apache-2.0.txt models/LICENSE-MODNet.md DESTINATION "${VBG_DOC_DESTINATION}" ${_data_mode})
install(FILES models/README.md DESTINATION "${VBG_DOC_DESTINATION}" RENAME MODELS.md ${_data_mode})
install(FILES "${ONNXRUNTIME_LICENSE}" DESTINATION "${VBG_DOC_DESTINATION}" RENAME LICENSE-onnxruntime.txt ${_data_mode})
install(FILES "${ONNXRUNTIME_NOTICES}" DESTINATION "${VBG_DOC_DESTINATION}"
  RENAME ThirdPartyNotices-onnxruntime.txt ${_data_mode})
