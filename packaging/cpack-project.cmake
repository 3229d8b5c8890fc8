# Read by cpack before it builds a package (CPACK_PROJECT_CONFIG_FILE).
if(CPACK_LF_SANITIZE)
	message(FATAL_ERROR "lorafleet: this build has LF_SANITIZE=ON; "
		"package a Release build instead (cmake -DCMAKE_BUILD_TYPE=Release "
		"-DLF_SANITIZE=OFF -DLF_BUILD_TESTS=OFF -DLF_BUILD_BENCH=OFF)")
endif()
