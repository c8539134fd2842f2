# What `cmake --install build --prefix P` puts where (included from the top CMakeLists.txt):
#   P/lib*/libeos-cl.so*                  the shared library (SONAME libeos-cl.so.<EOS_SOVERSION>)
#   P/include/eos/*.h                     the public headers (self-contained: no host/ internals)
#   P/bin/eos                             the CLI
#   P/lib*/pkgconfig/eos-cl.pc            pkg-config --cflags --libs eos-cl
#   P/lib*/cmake/EOSCL/                   find_package(EOSCL) -> EOSCL::eos-cl
#   P/lib/python3/dist-packages/eoscl/    the Python package (PYTHONPATH, unless P is /usr)
include(CMakePackageConfigHelpers)

install(TARGETS eos-cl EXPORT EOSCLTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS eos RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/eos DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

set(EOS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/EOSCL)
install(EXPORT EOSCLTargets NAMESPACE EOSCL:: DESTINATION ${EOS_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/EOSCLConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/generated/EOSCLConfig.cmake INSTALL_DESTINATION ${EOS_CMAKE_DIR})
# before 1.0 a minor version may break the API, as the SONAME says
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(EOS_COMPATIBILITY SameMinorVersion)
else()
  set(EOS_COMPATIBILITY SameMajorVersion)
endif()
write_basic_package_version_file(${CMAKE_BINARY_DIR}/generated/EOSCLConfigVersion.cmake
                                 COMPATIBILITY ${EOS_COMPATIBILITY})
install(FILES ${CMAKE_BINARY_DIR}/generated/EOSCLConfig.cmake ${CMAKE_BINARY_DIR}/generated/EOSCLConfigVersion.cmake
        DESTINATION ${EOS_CMAKE_DIR})

# eos-cl.pc: configured now but for the prefix, which is the one `cmake --install --prefix`
# is given, so it is written again at install time.
set(EOS_PC_PREFIX "@EOS_PC_PREFIX@")
# A build with MPI (EOS_MPI) links the library to it: a static link of a user's program needs it
# too. Its pkg-config module when it has one (Open MPI: ompi-c, MPICH: mpich), else its
# libraries by path.
set(EOS_PC_MPI_REQUIRES "")
set(EOS_PC_MPI_LIBS "")
if(EOS_HAVE_MPI)
  pkg_search_module(EOS_MPI_PC QUIET ompi-c mpich mpi-c)
  if(EOS_MPI_PC_FOUND)
    set(EOS_PC_MPI_REQUIRES " ${EOS_MPI_PC_MODULE_NAME}")
  else()
    foreach(lib ${MPI_C_LIBRARIES})
      string(APPEND EOS_PC_MPI_LIBS " ${lib}")
    endforeach()
  endif()
endif()
configure_file(${CMAKE_SOURCE_DIR}/cmake/eos-cl.pc.in ${CMAKE_BINARY_DIR}/generated/eos-cl.pc.in @ONLY)
install(CODE "set(EOS_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
configure_file(\"${CMAKE_BINARY_DIR}/generated/eos-cl.pc.in\" \"${CMAKE_BINARY_DIR}/generated/eos-cl.pc\" @ONLY)")
install(FILES ${CMAKE_BINARY_DIR}/generated/eos-cl.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The Python package, plain files; _install.py tells it where the library lies relative to
# itself, so the installed tree can be moved as a whole.
set(EOS_PYTHON_INSTALL_DIR lib/python3/dist-packages CACHE STRING
    "Where the Python package eoscl is installed, relative to the prefix (Debian's dist-packages under /usr)")
file(RELATIVE_PATH EOS_PY_TO_LIBDIR /prefix/${EOS_PYTHON_INSTALL_DIR}/eoscl /prefix/${CMAKE_INSTALL_LIBDIR})
string(REGEX REPLACE "/+$" "" EOS_PY_TO_LIBDIR "${EOS_PY_TO_LIBDIR}")
set(EOS_PY_LIBRARY "${EOS_PY_TO_LIBDIR}/${CMAKE_SHARED_LIBRARY_PREFIX}eos-cl${CMAKE_SHARED_LIBRARY_SUFFIX}.${EOS_SOVERSION}")
file(WRITE ${CMAKE_BINARY_DIR}/generated/eoscl_install.py
     "# Written by cmake/install.cmake: the shared library relative to this package.\nLIBRARY = \"${EOS_PY_LIBRARY}\"\n")
install(DIRECTORY ${CMAKE_SOURCE_DIR}/python/eoscl DESTINATION ${EOS_PYTHON_INSTALL_DIR}
        PATTERN __pycache__ EXCLUDE PATTERN "*.pyc" EXCLUDE)
install(FILES ${CMAKE_BINARY_DIR}/generated/eoscl_install.py DESTINATION ${EOS_PYTHON_INSTALL_DIR}/eoscl
        RENAME _install.py)
