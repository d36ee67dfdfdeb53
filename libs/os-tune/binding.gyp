{
  "targets": [
    {
      "target_name": "os_tune",
      "sources": ["src/addon.c", "src/malloc-tune.c", "src/send-buffer.c", "src/read-chunk.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
