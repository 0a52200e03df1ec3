import sys

from sparse_video_r1.cli import main

sys.exit(main())
