{
  "targets": [
    {
      "target_name": "crc32_isal",
      "sources": ["src/crc32.c"],
      "libraries": ["-lisal"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
