from mmvideo.cli import main

main()
