from iportal.cli import main

main()
