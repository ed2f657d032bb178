from app.client.cli import main

raise SystemExit(main())
