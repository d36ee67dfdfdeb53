{
  "targets": [
    {
      "target_name": "malloc_tune",
      "sources": ["src/malloc-tune.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
