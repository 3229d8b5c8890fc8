if(LF_SANITIZE)
	set(LF_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
		-fno-omit-frame-pointer)
	add_compile_options(${LF_SAN_FLAGS})
	add_link_options(${LF_SAN_FLAGS})
endif()
