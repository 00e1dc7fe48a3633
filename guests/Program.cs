System.IO.Directory.CreateDirectory(args[0]); System.IO.File.WriteAllBytes(System.IO.Path.Combine(args[0],"hello.bin"), new byte[]{0xf4});
