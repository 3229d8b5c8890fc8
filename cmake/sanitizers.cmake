if(LF_BUILD_FUZZ)
	# Every library is instrumented for libFuzzer's coverage feedback
	# (fuzzer-no-link); only the fuzz targets link libFuzzer itself
	# (fuzz/CMakeLists.txt). ASan and UBSan as in LF_SANITIZE.
	if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
		message(FATAL_ERROR "LF_BUILD_FUZZ needs clang (CC=clang): libFuzzer is clang's")
	endif()
	set(LF_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
		-fno-omit-frame-pointer)
	add_compile_options(${LF_SAN_FLAGS} -fsanitize=fuzzer-no-link)
	add_link_options(${LF_SAN_FLAGS})
elseif(LF_SANITIZE)
	set(LF_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
		-fno-omit-frame-pointer)
	add_compile_options(${LF_SAN_FLAGS})
	add_link_options(${LF_SAN_FLAGS})
endif()
