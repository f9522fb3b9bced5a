print("dato")
