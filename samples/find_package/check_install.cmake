# CTest driver (cmake -P): installs the standalone build into a fresh prefix, builds the
# downstream project of this folder against it with find_package(semflow), and runs it
# and the installed programs on the installed data.
#   -DBUILD_DIR=<semflow build> -DWORK_DIR=<scratch> -DGENERATOR=<cmake generator>
#   -DEXPECT_PROGRAMS=<names in bin/>
cmake_policy(VERSION 3.16)
foreach(v BUILD_DIR WORK_DIR GENERATOR EXPECT_PROGRAMS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "check_install.cmake needs -D${v}=...")
  endif()
endforeach()
set(prefix "${WORK_DIR}/prefix")
set(app_build "${WORK_DIR}/app-build")
file(REMOVE_RECURSE "${WORK_DIR}")

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(run_output "${out}${err}" PARENT_SCOPE)
endfunction()

run("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
string(REPLACE "," ";" programs "${EXPECT_PROGRAMS}")
foreach(p ${programs})
  if(NOT EXISTS "${prefix}/bin/${p}")
    message(FATAL_ERROR "cmake --install did not install bin/${p}")
  endif()
endforeach()
foreach(f include/opencv4/opencv2/semflow.hpp lib/cmake/semflow/semflowConfig.cmake
          share/semflow/models/semflow_tiny.onnx share/semflow/demo/source.png)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "cmake --install did not install ${f}")
  endif()
endforeach()

# CMAKE_PREFIX_PATH is the only hint: nothing of the build tree is visible to the project.
run("configuring the downstream project" "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}" -B "${app_build}"
    -G "${GENERATOR}" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
run("building the downstream project" "${CMAKE_COMMAND}" --build "${app_build}")
set(data "${prefix}/share/semflow")
run("semflow_downstream" "${app_build}/semflow_downstream" "${data}/models/semflow_tiny.onnx"
    "${data}/demo/source.png" "${data}/demo/target.png")
message(STATUS "semflow_downstream: ${run_output}")
if(NOT run_output MATCHES "flow 320x256; \\(160\\.0, 128\\.0\\) -> \\([0-9.]+, [0-9.]+\\)")
  message(FATAL_ERROR "unexpected output of semflow_downstream: ${run_output}")
endif()

# The installed demo runs on the installed data.
if("semflow_demo" IN_LIST programs)
  run("installed semflow_demo" "${prefix}/bin/semflow_demo" "${data}/demo/source.png" "${data}/demo/target.png"
      "--model=${data}/models/semflow_tiny.onnx" "--out=${WORK_DIR}/demo" --runs=1)
  if(NOT EXISTS "${WORK_DIR}/demo/flow.flo")
    message(FATAL_ERROR "the installed semflow_demo wrote no flow.flo:\n${run_output}")
  endif()
endif()
# The installed trainer starts (it links LibTorch from the system, not from the build tree).
if("sfnet" IN_LIST programs)
  run("installed sfnet" "${prefix}/bin/sfnet" --help)
  if(NOT run_output MATCHES "usage: sfnet <command>")
    message(FATAL_ERROR "unexpected output of the installed sfnet --help:\n${run_output}")
  endif()
endif()
message(STATUS "install check passed: ${prefix}")
