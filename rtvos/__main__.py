from rtvos.cli import main

raise SystemExit(main())
