# Tern - top-level, non-recursive GNU Makefile.
#
# Every executable is linked into build/: build/sbin/{ternd,tern} and
# build/libexec/tern/<daemon>.  ternd finds its daemons at
# $(dirname of its own binary)/../libexec/tern, so the same rule works in
# the build tree and after "make install".

PREFIX     ?= /usr/local
DESTDIR    ?=
SBINDIR     = $(PREFIX)/sbin
LIBEXECDIR  = $(PREFIX)/libexec/tern
MANDIR      = $(PREFIX)/share/man
SYSCONFDIR ?= /etc/tern

CC       ?= cc
PKGS      = libevent libevent_openssl lmdb yaml-0.1 openssl zlib jansson libxcrypt opendkim
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# CFLAGS is the user's (make CFLAGS=... works); TERN_CFLAGS always apply.
CFLAGS   ?= -O2 -g
TERN_CFLAGS = -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
	    -Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter \
	    -fno-strict-aliasing -D_GNU_SOURCE -Icommon $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS)
ALL_CFLAGS = $(TERN_CFLAGS) $(CFLAGS)

B = build

COMMON_SRC = $(wildcard common/*.c)
COMMON_OBJ = $(COMMON_SRC:%.c=$(B)/obj/%.o)
LIBCOMMON  = $(B)/libcommon.a

DAEMONS   = smtpd queued deliverd shaperd dkimd bouncd
PROGS     = $(DAEMONS:%=$(B)/libexec/tern/%) $(B)/sbin/ternd $(B)/sbin/tern

UNIT_SRC  = $(wildcard t/unit/*.c)
UNIT_BIN  = $(UNIT_SRC:t/unit/%.c=$(B)/t/%)

all: $(PROGS) $(UNIT_BIN)

V ?= 0
ifeq ($(V),0)
Q = @
else
Q =
endif

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBCOMMON): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(Q)$(AR) rcs $@ $^

# One daemon per directory; all of its .c files make one executable.
define daemon_rule
$(1)_OBJ = $$(patsubst %.c,$(B)/obj/%.o,$$(wildcard $(1)/*.c))
$(B)/libexec/tern/$(1): $$($(1)_OBJ) $(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CC) $$(ALL_CFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon_rule,$(d))))

ternd_OBJ = $(patsubst %.c,$(B)/obj/%.o,$(wildcard master/*.c))
$(B)/sbin/ternd: $(ternd_OBJ) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tern_OBJ = $(patsubst %.c,$(B)/obj/%.o,$(wildcard ctl/*.c))
$(B)/sbin/tern: $(tern_OBJ) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests link against libcommon and, where named t/unit/test_<daemon>_*.c,
# against that daemon's objects except main.o.
$(B)/t/%: t/unit/%.c $(LIBCOMMON) t/unit/tap.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -It/unit $(LDFLAGS) -o $@ $< \
	    $(filter-out %/main.o,$(foreach d,$(DAEMONS),$(if $(filter test_$(d)_%,$*),$($(d)_OBJ)))) \
	    $(LIBCOMMON) $(LDLIBS)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# --- tests -----------------------------------------------------------------
PROVE ?= prove
check: deps
	$(MAKE) all
	$(PROVE) -v -j2 --timer t/*.t

check-quick: all
	$(PROVE) --timer t/*.t

deps:
	@sh t/lib/install-deps.sh

asan: deps
	$(MAKE) B=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" all
	TERN_BUILD=build-asan ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=/tmp/tern-asan \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(PROVE) -v --timer t/*.t

# --- fuzzing (clang + libFuzzer; see t/fuzz/README) -------------------------
# make fuzz: one harness per parser, build-fuzz/fuzz_*.  make fuzz-run: each
# for FUZZ_SECONDS, new inputs into build-fuzz/corpus/<name>, crashes into
# build-fuzz/crashes/, the log into build-fuzz/<harness>.log ("make -j2
# fuzz-run" runs two at a time).  FUZZ_OPTS goes to every libFuzzer run.
FUZZ_CC      ?= clang
FUZZ_B        = build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_OPTS    ?=
FUZZ_SAN      = -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = $(TERN_CFLAGS) -O1 -g $(FUZZ_SAN)
FUZZ_OBJ      = $(COMMON_SRC:%.c=$(FUZZ_B)/obj/%.o)
FUZZ_BIN      = $(patsubst t/fuzz/%.c,$(FUZZ_B)/%,$(wildcard t/fuzz/fuzz_*.c))

fuzz: $(FUZZ_BIN)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_B)/libcommon.a: $(FUZZ_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_B)/fuzz_%: t/fuzz/fuzz_%.c $(FUZZ_B)/libcommon.a
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -MF $@.d -o $@ $< \
	    $(FUZZ_B)/libcommon.a $(PKG_LIBS)

fuzz-run: $(FUZZ_BIN:%=%.run)

$(FUZZ_BIN:%=%.run): $(FUZZ_B)/%.run: $(FUZZ_B)/%
	@n=$(patsubst fuzz_%,%,$*); mkdir -p $(FUZZ_B)/corpus/$$n $(FUZZ_B)/crashes; \
	d=; [ -f t/fuzz/$*.dict ] && d=-dict=t/fuzz/$*.dict; \
	echo "  RUN     $* for $(FUZZ_SECONDS)s, log $(FUZZ_B)/$*.log"; \
	if $(FUZZ_B)/$* -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_B)/crashes/$*- $$d $(FUZZ_OPTS) \
	    $(FUZZ_B)/corpus/$$n t/fuzz/corpus/$$n >$(FUZZ_B)/$*.log 2>&1; \
	then grep -h '^stat::number_of_executed_units' $(FUZZ_B)/$*.log || :; \
	else tail -n 60 $(FUZZ_B)/$*.log; echo "$*: FAILED, see $(FUZZ_B)/$*.log"; \
	    exit 1; fi

-include $(wildcard $(FUZZ_B)/obj/common/*.d $(FUZZ_B)/*.d)

.PHONY: fuzz fuzz-run $(FUZZ_BIN:%=%.run)

# --- demo ------------------------------------------------------------------
demo: all
	@sh etc/demo.sh

# --- install ---------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)
	install -m 0755 $(B)/sbin/ternd $(B)/sbin/tern $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(DAEMONS:%=$(B)/libexec/tern/%) $(DESTDIR)$(LIBEXECDIR)/
	install -m 0644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(wildcard man/*.5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(wildcard man/*.8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 etc/tern.yaml.sample $(DESTDIR)$(SYSCONFDIR)/tern.yaml.sample

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all check check-quick deps asan demo install clean
