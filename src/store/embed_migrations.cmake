# Embeds the SQL migrations into C: cmake -DMIGRATIONS_DIR=dir -DOUTPUT=file.c -P embed_migrations.cmake
#
# Every MIGRATIONS_DIR/NNNN_name.sql becomes one entry of mopay_store_migrations_embedded[], in
# version order, its text a C string literal. Fails the build on a badly named file, a duplicate
# version, a version gap or an empty folder, so a mistake never reaches a database.

if(NOT MIGRATIONS_DIR OR NOT OUTPUT)
  message(FATAL_ERROR "usage: cmake -DMIGRATIONS_DIR=dir -DOUTPUT=file.c -P embed_migrations.cmake")
endif()

file(GLOB files RELATIVE ${MIGRATIONS_DIR} ${MIGRATIONS_DIR}/*.sql)
list(SORT files)
list(LENGTH files count)
if(count EQUAL 0)
  message(FATAL_ERROR "embed_migrations: no *.sql files in ${MIGRATIONS_DIR}")
endif()

set(entries "")
set(expected 1)
foreach(file IN LISTS files)
  if(NOT file MATCHES "^([0-9][0-9][0-9][0-9])_([a-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "embed_migrations: ${file} is not named NNNN_name.sql (lowercase, digits, _)")
  endif()
  set(name ${CMAKE_MATCH_2})
  # Leading zeros would make an octal C literal; go through math() for a decimal one.
  string(REGEX REPLACE "^0+" "" version "${CMAKE_MATCH_1}")
  if(version STREQUAL "")
    set(version 0)
  endif()
  math(EXPR version "${version}")
  if(NOT version EQUAL expected)
    message(FATAL_ERROR "embed_migrations: ${file}: expected version ${expected} (versions start at 1, no gaps or duplicates)")
  endif()
  math(EXPR expected "${expected} + 1")

  file(READ ${MIGRATIONS_DIR}/${file} sql)
  string(STRIP "${sql}" sql)
  if(sql STREQUAL "")
    message(FATAL_ERROR "embed_migrations: ${file} is empty")
  endif()
  string(REPLACE "\\" "\\\\" sql "${sql}")
  string(REPLACE "\"" "\\\"" sql "${sql}")
  string(REPLACE "\t" "\\t" sql "${sql}")
  string(REPLACE "\r" "" sql "${sql}")
  string(REPLACE "?" "\\?" sql "${sql}")
  string(REPLACE "\n" "\\n\"\n        \"" sql "${sql}")
  string(APPEND entries "    {${version}, \"${name}\",\n        \"${sql}\\n\"},\n")
endforeach()

set(content "/* Generated from src/store/migrations/ by src/store/embed_migrations.cmake; do not edit. */
#include <stddef.h>

#include \"mopay/store.h\"

const struct mopay_migration mopay_store_migrations_embedded[] = {
${entries}};

const size_t mopay_store_migrations_embedded_count =
    sizeof mopay_store_migrations_embedded / sizeof mopay_store_migrations_embedded[0];
")

# Rewrite only when the text changed, so an unrelated re-run does not recompile the store.
file(WRITE ${OUTPUT}.tmp "${content}")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
