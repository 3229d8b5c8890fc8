# Warnings for the project's own targets (not for generated code).
set(LF_WARNINGS -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes
	-Wmissing-prototypes -Wno-unused-parameter -Wformat=2 -Wvla)
if(LF_WERROR)
	list(APPEND LF_WARNINGS -Werror)
endif()

function(lf_target_warnings target)
	target_compile_options(${target} PRIVATE ${LF_WARNINGS})
endfunction()
